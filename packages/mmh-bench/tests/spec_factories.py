"""Calculator factories for the import-path tests (``spec_factories:scaled_emt``)."""

from __future__ import annotations

from ase.calculators.emt import EMT

#: set by :func:`scaled_emt`, so the tests can see the arguments it got
CALLS: list[dict] = []


class ScaledEMT(EMT):
    """EMT with the energy scaled: a calculator factory defined in a test module."""

    def __init__(self, factor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        for key in ("energy", "free_energy", "forces", "energies", "stress"):
            if key in self.results:
                self.results[key] = self.results[key] * self.factor


def scaled_emt(factor: float = 1.0, label: str = "x", fast: bool = False) -> ScaledEMT:
    CALLS.append({"factor": factor, "label": label, "fast": fast})
    return ScaledEMT(factor)


def not_a_calculator():
    return 42


def broken():
    raise RuntimeError("no licence")
