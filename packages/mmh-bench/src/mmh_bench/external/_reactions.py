"""Energy differences (reactions) as every external benchmark states them, and their scoring.

Each external benchmark reduces to a list of `EnergyDifference`: a reference value
and a linear combination of single-point energies (lattice energy = E(crystal)/Z −
E(molecule), adsorption energy = E(complex) − E(surface) − E(molecule), a reaction energy
= Σ ν_i E(species_i), ...). One code path computes and scores them all.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._evaluate import UNIT_LABELS, EnergyEvaluator, reaction_result
from ._units import ENERGY_UNITS

__all__ = ["EnergyDifference", "Term", "composition", "predict", "score_differences"]


@dataclass(frozen=True, eq=False)
class Term:
    """One structure of an energy difference.

    Attributes:
        coefficient: Its factor in the difference (negative for reactants).
        key: Unique name of the structure (energies are computed once per key).
        atoms: The structure, with ``info["charge"]`` and ``info["multiplicity"]`` set.
    """

    coefficient: float
    key: str
    atoms: Atoms


@dataclass(frozen=True, eq=False)
class EnergyDifference:
    """A reference energy difference: ``Σ coefficient · E(atoms) + offset_ev``.

    Attributes:
        name: Name of the difference (a system, conformer or reaction).
        terms: The structures and their coefficients.
        reference_ev: The reference value, eV.
        group: A category (subset, surface type, molecule) for per-group errors.
        offset_ev: A constant added to the prediction, eV (fixed gas-phase references).
        meta: Anything else worth keeping with the result (JSON-serialisable).
    """

    name: str
    terms: tuple[Term, ...]
    reference_ev: float
    group: str = ""
    offset_ev: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def neutral_closed_shell(self) -> bool:
        """True when every structure is neutral and a singlet."""
        return all(
            int(t.atoms.info.get("charge", 0)) == 0
            and int(t.atoms.info.get("multiplicity", 1)) == 1
            for t in self.terms
        )

    def stoichiometry_balance(self) -> Counter:
        """``Σ coefficient · count(element)`` over the terms (all zero for a balanced reaction)."""
        total: Counter = Counter()
        for t in self.terms:
            for symbol, count in composition(t.atoms).items():
                total[symbol] += t.coefficient * count
        return Counter({k: v for k, v in total.items() if abs(v) > 1e-9})


def composition(atoms: Atoms) -> Counter:
    """Element counts of a structure."""
    return Counter(atoms.get_chemical_symbols())


def predict(
    calculator: BaseCalculator,
    differences: Sequence[EnergyDifference],
    benchmark: str,
    on_error: str = "raise",
) -> tuple[list[float], EnergyEvaluator]:
    """Predicted values (eV) of ``differences``; NaN where a calculation failed."""
    evaluate = EnergyEvaluator(calculator, benchmark, on_error)
    predicted = [
        evaluate.combination([(t.coefficient, t.key, t.atoms) for t in d.terms]) + d.offset_ev
        for d in differences
    ]
    return predicted, evaluate


def group_errors(
    differences: Sequence[EnergyDifference], predicted: Sequence[float], unit: str
) -> dict[str, dict[str, float]]:
    """Per-group MAE and count: ``{group: {"mae": ..., "n": ...}}`` (in ``unit``)."""
    factor = ENERGY_UNITS[unit]
    by_group: dict[str, list[float]] = {}
    for d, p in zip(differences, predicted, strict=True):
        if math.isfinite(p):
            by_group.setdefault(d.group, []).append(abs(p - d.reference_ev) / factor)
    return {g: {"mae": float(np.mean(e)), "n": len(e)} for g, e in by_group.items()}


def score_differences(
    name: str,
    domain: str,
    calculator: BaseCalculator,
    differences: Sequence[EnergyDifference],
    *,
    unit: str = "kcal_mol",
    also_in: Sequence[str] = (),
    on_error: str = "raise",
    excluded: Sequence[str] = (),
    extra_metrics: Mapping[str, float] | None = None,
    extra_units: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
) -> tuple[BenchmarkResult, list[float]]:
    """Compute ``differences`` with ``calculator`` and build the benchmark result.

    Args:
        name: Benchmark name.
        domain: Its domain.
        calculator: Any ASE calculator.
        differences: What to compute.
        unit: Unit of the main metrics and of ``data["reference"]``/``data["predicted"]``.
        also_in: Further units in which to report the MAE (``mae_<unit>``).
        on_error: ``"raise"`` or ``"skip"``.
        excluded: Names left out before computing (listed in ``data["excluded"]``).
        extra_metrics: More metrics.
        extra_units: Their units.
        data: More raw data.

    Returns:
        The result and the predicted values (eV, NaN for failures).
    """
    predicted, evaluate = predict(calculator, differences, name, on_error)
    metrics = dict(extra_metrics or {})
    units = dict(extra_units or {})
    ok = [(d, p) for d, p in zip(differences, predicted, strict=True) if math.isfinite(p)]
    for other in also_in:
        factor = ENERGY_UNITS[other]
        key = f"mae_{other}"
        metrics[key] = (
            float(np.mean([abs(p - d.reference_ev) for d, p in ok]) / factor) if ok else math.nan
        )
        units[key] = UNIT_LABELS[other]
    payload: dict[str, Any] = (
        {"group": [d.group for d, p in ok]} if any(d.group for d in differences) else {}
    )
    groups = group_errors(differences, predicted, unit)
    if len(groups) > 1 or (groups and "" not in groups):
        payload["group_mae"] = groups
    payload.update(data or {})
    result = reaction_result(
        name,
        domain,
        calculator,
        [d.name for d in differences],
        [d.reference_ev for d in differences],
        predicted,
        unit,
        extra_metrics=metrics,
        extra_units=units,
        data=payload,
        failures=evaluate.failures,
        skipped=excluded,
    )
    return result, predicted
