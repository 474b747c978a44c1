"""Calculators the command line can build by name, and the mmh model calculator."""

from __future__ import annotations

from typing import Any

__all__ = ["CALCULATORS", "TBLITE_SETTINGS", "make_calculator", "model_calculator"]

#: Settings of the tblite calculators: those the bundled datasets were labelled with
#: (charge and spin are left to the structures, so benchmarks can set them).
TBLITE_SETTINGS: dict[str, Any] = {
    "accuracy": 1.0,
    "electronic_temperature": 300.0,
    "max_iterations": 250,
    "mixer_damping": 0.4,
    "guess": "sad",
    "cache_api": False,
    "verbosity": 0,
}

_TBLITE = {"tblite-gfn1": "GFN1-xTB", "tblite-gfn2": "GFN2-xTB", "tblite-ipea1": "IPEA1-xTB"}

#: Names accepted by :func:`make_calculator`.
CALCULATORS = ("emt", *_TBLITE)


def make_calculator(name: str) -> Any:
    """A reference calculator by name: ``emt`` (ASE's EMT) or ``tblite-gfn1``,
    ``tblite-gfn2``, ``tblite-ipea1`` (tblite with :data:`TBLITE_SETTINGS`; every geometry
    gets a fresh SCF because ``cache_api`` is off).

    The calculator gets a ``description`` attribute for reports.

    Raises:
        ValueError: Unknown name.
        ImportError: tblite is asked for but not installed.
    """
    key = name.lower()
    if key == "emt":
        from ase.calculators.emt import EMT

        calc = EMT()
        calc.description = "ASE EMT"
        return calc
    if key in _TBLITE:
        try:
            from tblite.ase import TBLite
        except ImportError as err:
            raise ImportError(
                f"calculator {name!r} needs tblite: pip install tblite ({err})"
            ) from err
        calc = TBLite(method=_TBLITE[key], **TBLITE_SETTINGS)
        calc.description = f"tblite {_TBLITE[key]}"
        return calc
    raise ValueError(f"unknown calculator {name!r}; choose one of {list(CALCULATORS)}")


def model_calculator(
    model: str, head: str | None, *, dtype: str | None = None, device: str = "cpu"
) -> Any:
    """An :class:`mmh_ase.MMHCalculator` for one head of a model file, with a description."""
    from mmh_ase import MMHCalculator

    kwargs: dict[str, Any] = {"device": device}
    if dtype is not None:
        kwargs["dtype"] = dtype
    calc = MMHCalculator(model, head=head, **kwargs)
    calc.description = f"mmh {model} (head {calc.head}, {str(calc.dtype).removeprefix('torch.')})"
    return calc
