"""Calculators the command line can build by name, and the mmh model calculator."""

from __future__ import annotations

from typing import Any

from ._spec import calculator_from_spec

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

#: Names accepted by `make_calculator`.
CALCULATORS = ("emt", *_TBLITE)


def make_calculator(name: str) -> Any:
    """A calculator by name or by import path.

    Names: ``emt`` (ASE's EMT) or ``tblite-gfn1``, ``tblite-gfn2``, ``tblite-ipea1``
    (tblite with [`TBLITE_SETTINGS`][mmh_bench.TBLITE_SETTINGS]; every geometry gets a fresh SCF
    because ``cache_api`` is off). Import paths: ``module:Factory?key=value&key=value``, for any
    ASE calculator importable in the environment (see
    [`mmh_bench.calculator_from_spec`][]), e.g.
    ``mace.calculators:mace_mp?model=small&default_dtype=float64``.

    The calculator gets a ``description`` attribute for reports.

    Raises:
        ValueError: Unknown name (a [`mmh_bench.CalculatorSpecError`][] for a bad
            import path).
        ImportError: tblite is asked for but not installed.

    Example:
        >>> make_calculator("ase.calculators.emt:EMT").description
        'ase.calculators.emt:EMT()'
    """
    if ":" in name:
        return calculator_from_spec(name)
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
    raise ValueError(
        f"unknown calculator {name!r}; choose one of {list(CALCULATORS)} or give an import "
        "path module:Factory?key=value (e.g. ase.calculators.emt:EMT)"
    )


def model_calculator(
    model: str, head: str | None, *, dtype: str | None = None, device: str = "cpu"
) -> Any:
    """An [`mmh_ase.MMHCalculator`][] for one head of a model file, with a description."""
    from mmh_ase import MMHCalculator

    kwargs: dict[str, Any] = {"device": device}
    if dtype is not None:
        kwargs["dtype"] = dtype
    calc = MMHCalculator(model, head=head, **kwargs)
    calc.description = f"mmh {model} (head {calc.head}, {str(calc.dtype).removeprefix('torch.')})"
    return calc
