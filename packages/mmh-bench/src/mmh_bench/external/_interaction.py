"""Interaction energies of complexes split into two fragments (PLF547, S30L)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._reactions import EnergyDifference, score_differences
from ._sets import load_three_body

__all__ = ["interaction_benchmark", "load_interaction_set"]


def load_interaction_set(
    root: str | Path, benchmark: str, roles: tuple[str, str, str]
) -> list[EnergyDifference]:
    """``E(complex) − E(fragment A) − E(fragment B)`` per system of ``root``."""
    return load_three_body(root, benchmark, roles, "interaction_energy")


def interaction_benchmark(
    benchmark: str,
    calculator: BaseCalculator,
    differences: Sequence[EnergyDifference],
    *,
    neutral_singlet_only: bool,
    on_error: str,
) -> BenchmarkResult:
    """Score interaction energies, optionally on the neutral singlet systems only."""
    kept = [d for d in differences if d.neutral_closed_shell or not neutral_singlet_only]
    excluded = [d.name for d in differences if d not in kept]
    result, _ = score_differences(
        benchmark,
        "molecules",
        calculator,
        kept,
        on_error=on_error,
        excluded=excluded,
        data={
            "quantity": "interaction energy",
            "neutral_singlet_only": neutral_singlet_only,
        },
    )
    return result
