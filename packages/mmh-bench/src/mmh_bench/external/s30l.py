"""S30L: binding energies of 30 large host–guest complexes (paper §XI.D).

    E_bind = E(complex) − E(host) − E(guest),

on the published geometries, against the empirical binding energies back-corrected from
experimental association free energies (kcal/mol). Several S30L complexes are charged;
their charges are passed to the calculator (``atoms.info["charge"]``, initial charges)
and all 30 are scored by default.

Data layout (``root``):

- ``structures.extxyz``: per system three frames with ``info`` ``system=<name>`` and
  ``role`` one of ``complex``, ``host`` and ``guest``; ``charge`` (and ``multiplicity``
  if not the lowest) per frame.
- ``reference.csv``: columns ``system`` and ``interaction_energy_<unit>``.
"""

from __future__ import annotations

from pathlib import Path

from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._interaction import interaction_benchmark, load_interaction_set
from ._reactions import EnergyDifference

__all__ = ["load_s30l", "s30l"]


def load_s30l(root: str | Path) -> list[EnergyDifference]:
    """Read the S30L data directory (layout in the module docstring)."""
    return load_interaction_set(root, "s30l", ("complex", "host", "guest"))


def s30l(
    calculator: BaseCalculator,
    root: str | Path,
    *,
    neutral_singlet_only: bool = False,
    on_error: str = "raise",
) -> BenchmarkResult:
    """S30L host–guest binding energies against the references in ``root``.

    Args:
        calculator: Any ASE calculator.
        root: The data directory.
        neutral_singlet_only: Score only the neutral singlet complexes.
        on_error: ``"raise"`` or ``"skip"``.

    Returns:
        ``BenchmarkResult("s30l", "molecules")`` with ``mae_kcal_mol`` (scored) and the
        other error statistics.
    """
    return interaction_benchmark(
        "s30l",
        calculator,
        load_s30l(root),
        neutral_singlet_only=neutral_singlet_only,
        on_error=on_error,
    )
