"""PLF547: interaction energies of protein–ligand fragment complexes (paper §XI.C).

547 complexes of a ligand with protein-like fragments (peptide side-chain and backbone
models), DLPNO-CCSD(T)/CBS interaction energies:

    E_int = E(complex) − E(protein fragment) − E(ligand),

on the published geometries. Following the paper, only the neutral singlet complexes are
scored by default (``neutral_singlet_only=True``).

Data layout (``root``):

- ``structures.extxyz``: per system three frames with ``info`` ``system=<name>`` and
  ``role`` one of ``complex``, ``protein`` and ``ligand``; ``charge`` and
  ``multiplicity`` per frame where they are not 0 and 1.
- ``reference.csv``: columns ``system`` and ``interaction_energy_<unit>``.
"""

from __future__ import annotations

from pathlib import Path

from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._interaction import interaction_benchmark, load_interaction_set
from ._reactions import EnergyDifference

__all__ = ["load_plf547", "plf547"]


def load_plf547(root: str | Path) -> list[EnergyDifference]:
    """Read the PLF547 data directory (layout in the module docstring)."""
    return load_interaction_set(root, "plf547", ("complex", "protein", "ligand"))


def plf547(
    calculator: BaseCalculator,
    root: str | Path,
    *,
    neutral_singlet_only: bool = True,
    on_error: str = "raise",
) -> BenchmarkResult:
    """PLF547 interaction energies against the references in ``root``.

    Args:
        calculator: Any ASE calculator.
        root: The data directory.
        neutral_singlet_only: Score only complexes whose three structures are neutral
            singlets (the paper's choice); the others are listed in ``data["excluded"]``.
        on_error: ``"raise"`` or ``"skip"``.

    Returns:
        ``BenchmarkResult("plf547", "molecules")`` with ``mae_kcal_mol`` (scored),
        ``rmse_kcal_mol``, ``max_abs_error_kcal_mol``, ``mean_signed_error_kcal_mol``.
    """
    return interaction_benchmark(
        "plf547",
        calculator,
        load_plf547(root),
        neutral_singlet_only=neutral_singlet_only,
        on_error=on_error,
    )
