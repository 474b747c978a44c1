"""Single-point energies with any ASE calculator, error statistics and result assembly.

Shared by every energy benchmark of mmh-bench (the molecular and materials benchmarks
and the external ones).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._units import ENERGY_UNITS

__all__ = [
    "UNIT_LABELS",
    "EnergyEvaluator",
    "describe_calculator",
    "error_statistics",
    "reaction_result",
    "set_charge_and_multiplicity",
]

#: Printable form of the unit suffixes of metric keys.
UNIT_LABELS = {"ev": "eV", "mev": "meV", "kcal_mol": "kcal/mol", "kj_mol": "kJ/mol"}

_ON_ERROR = ("raise", "skip")


def describe_calculator(calculator: BaseCalculator) -> str:
    """A short description of a calculator: its class and its method or head, if any."""
    name = type(calculator).__name__
    params = getattr(calculator, "parameters", None) or {}
    shown = [
        f"{key}={params[key]}"
        for key in ("method", "head", "model")
        if key in params and isinstance(params[key], (str, int, float))
    ]
    return f"{name}({', '.join(shown)})" if shown else name


def set_charge_and_multiplicity(
    atoms: Atoms,
    charge: int,
    multiplicity: int,
    magmoms: Sequence[float] | None = None,
) -> Atoms:
    """Record a structure's total charge and spin multiplicity where calculators look.

    Sets ``atoms.info["charge"]`` and ``atoms.info["multiplicity"]`` (and
    ``atoms.info["spin"]``, the multiplicity key of fairchem's calculators), the initial
    charges (the whole charge on the first atom; tblite sums them) and the initial magnetic
    moments (``magmoms`` if given, else ``multiplicity - 1`` unpaired electrons on the first
    atom; tblite rounds their sum to the number of unpaired electrons). A machine-learning
    potential without charge or spin inputs ignores all of this.

    Args:
        atoms: Modified in place and returned.
        charge: Total charge in units of e.
        multiplicity: 2S + 1.
        magmoms: Per-atom initial magnetic moments (Bohr magnetons), optional.

    Returns:
        ``atoms``.
    """
    n = len(atoms)
    atoms.info["charge"] = int(charge)
    atoms.info["multiplicity"] = int(multiplicity)
    atoms.info["spin"] = int(multiplicity)
    charges = np.zeros(n)
    charges[0] = charge
    atoms.set_initial_charges(charges)
    if magmoms is None:
        moments = np.zeros(n)
        moments[0] = multiplicity - 1
    else:
        moments = np.asarray(magmoms, dtype=float)
        if moments.shape != (n,) or round(float(moments.sum())) != multiplicity - 1:
            raise ValueError(
                f"magnetic moments {list(moments)} do not give multiplicity {multiplicity} "
                f"for {atoms.get_chemical_formula()}"
            )
    atoms.set_initial_magnetic_moments(moments)
    return atoms


class EnergyEvaluator:
    """Single-point energies of named structures with one calculator, each computed once.

    Args:
        calculator: Any ASE calculator.
        benchmark: The benchmark's name, used in error messages.
        on_error: ``"raise"`` (default) stops at the first structure the calculator fails
            on, naming it; ``"skip"`` records the failure in `failures` and returns
            NaN, so that the benchmark leaves out what depends on that structure.

    Attributes:
        failures: ``{key: message}`` of the structures that failed (``on_error="skip"``).
    """

    def __init__(self, calculator: BaseCalculator, benchmark: str, on_error: str = "raise"):
        if on_error not in _ON_ERROR:
            raise ValueError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}")
        self.calculator = calculator
        self.benchmark = benchmark
        self.on_error = on_error
        self.failures: dict[str, str] = {}
        self._energies: dict[str, float] = {}

    def __call__(self, key: str, atoms: Atoms) -> float:
        """Potential energy (eV) of ``atoms``, cached under ``key``."""
        if key in self._energies:
            return self._energies[key]
        work = atoms.copy()
        work.calc = self.calculator
        try:
            energy = float(work.get_potential_energy())
            if not math.isfinite(energy):
                raise FloatingPointError(f"non-finite energy {energy}")
        except Exception as exc:
            if self.on_error == "raise":
                raise RuntimeError(
                    f"{self.benchmark}: the calculator failed on {key!r} "
                    f"({atoms.get_chemical_formula()}): {type(exc).__name__}: {exc}"
                ) from exc
            self.failures[key] = f"{type(exc).__name__}: {exc}"
            energy = math.nan
        self._energies[key] = energy
        return energy

    def combination(self, terms: Sequence[tuple[float, str, Atoms]]) -> float:
        """``sum(coefficient * E(atoms))`` over ``(coefficient, key, atoms)`` terms (eV)."""
        return float(sum(c * self(key, atoms) for c, key, atoms in terms))


def error_statistics(
    reference: Sequence[float], predicted: Sequence[float], unit: str
) -> dict[str, float]:
    """MAE, RMSE, largest absolute error and mean signed error (predicted − reference).

    Args:
        reference: Reference values, in ``unit``.
        predicted: Predicted values, in ``unit``.
        unit: Unit suffix of the keys, e.g. ``"kcal_mol"``.

    Returns:
        ``{"mae_<unit>", "rmse_<unit>", "max_abs_error_<unit>", "mean_signed_error_<unit>"}``,
        NaN for empty input.
    """
    ref = np.asarray(reference, dtype=float)
    pred = np.asarray(predicted, dtype=float)
    if ref.shape != pred.shape:
        raise ValueError(f"{ref.shape[0]} reference values but {pred.shape[0]} predictions")
    if ref.size == 0:
        nan = math.nan
        return {f"{k}_{unit}": nan for k in ("mae", "rmse", "max_abs_error", "mean_signed_error")}
    err = pred - ref
    return {
        f"mae_{unit}": float(np.abs(err).mean()),
        f"rmse_{unit}": float(np.sqrt((err**2).mean())),
        f"max_abs_error_{unit}": float(np.abs(err).max()),
        f"mean_signed_error_{unit}": float(err.mean()),
    }


def reaction_result(
    name: str,
    domain: str,
    calculator: BaseCalculator,
    systems: Sequence[str],
    reference_ev: Sequence[float],
    predicted_ev: Sequence[float],
    unit: str = "kcal_mol",
    *,
    extra_metrics: Mapping[str, float] | None = None,
    extra_units: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
    failures: Mapping[str, str] | None = None,
    skipped: Sequence[str] = (),
) -> BenchmarkResult:
    """A [`mmh_bench.BenchmarkResult`][] for energy differences compared with references.

    Systems whose prediction is NaN (a failed calculation) are left out of the metrics
    and listed in ``data["skipped"]``.

    Args:
        name: Benchmark name.
        domain: One of [`mmh_bench.DOMAINS`][].
        calculator: The calculator (described in the result).
        systems: One name per energy difference.
        reference_ev: Reference values (eV).
        predicted_ev: Predicted values (eV); NaN where a calculation failed.
        unit: Unit of the metrics and of ``data["reference"]``/``data["predicted"]``.
        extra_metrics: More metrics (already in their units).
        extra_units: Units of ``extra_metrics``.
        data: More raw data.
        failures: ``{structure: message}`` of failed calculations.
        skipped: Systems left out before any calculation (e.g. charged ones), listed in
            ``data["excluded"]``.
    """
    factor = ENERGY_UNITS[unit]
    keep = [i for i, p in enumerate(predicted_ev) if math.isfinite(p)]
    kept_systems = [systems[i] for i in keep]
    ref = [reference_ev[i] / factor for i in keep]
    pred = [predicted_ev[i] / factor for i in keep]
    metrics = error_statistics(ref, pred, unit)
    units = dict.fromkeys(metrics, UNIT_LABELS[unit])
    metrics["n_systems"] = float(len(keep))
    units["n_systems"] = "count"
    metrics.update(extra_metrics or {})
    units.update(extra_units or {})
    payload: dict[str, Any] = {
        "systems": kept_systems,
        "reference": ref,
        "predicted": pred,
        "unit": UNIT_LABELS[unit],
    }
    payload.update(data or {})
    failed = [s for i, s in enumerate(systems) if not math.isfinite(predicted_ev[i])]
    if failed:
        payload["skipped"] = failed
    if failures:
        payload["failures"] = dict(failures)
    if skipped:
        payload["excluded"] = list(skipped)
    return BenchmarkResult(
        name=name,
        domain=domain,
        metrics=metrics,
        units=units,
        data=payload,
        calculator=describe_calculator(calculator),
    )
