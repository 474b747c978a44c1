"""S24: adsorption energies of small molecules on surfaces and in porous materials (§X.A).

    E_ads = E(molecule on surface) − E(surface) − E(molecule),

against PBE+D3(BJ) references (eV). The paper's Table VI reports eV; the score uses
kcal/mol.

Data layout (``root``):

- ``structures.extxyz``: per system three frames with ``info`` ``system=<name>`` and
  ``role`` one of ``complex`` (adsorbate on the surface), ``surface`` and ``molecule``
  (the isolated adsorbate).
- ``reference.csv``: columns ``system``, ``adsorption_energy_<unit>`` (``ev``, ``mev``,
  ``kcal_mol`` or ``kj_mol``) and optionally ``category`` (covalent, ionic, metallic,
  porous, ...), reported per category in ``data["group_mae"]``.
"""

from __future__ import annotations

from pathlib import Path

from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._reactions import EnergyDifference, score_differences
from ._sets import load_three_body

__all__ = ["load_s24", "s24"]


def load_s24(root: str | Path) -> list[EnergyDifference]:
    """Read the S24 data directory (layout in the module docstring)."""
    return load_three_body(root, "s24", ("complex", "surface", "molecule"), "adsorption_energy")


def s24(
    calculator: BaseCalculator, root: str | Path, *, on_error: str = "raise"
) -> BenchmarkResult:
    """S24 adsorption energies against the references in ``root``.

    Returns:
        ``BenchmarkResult("s24", "surfaces")`` with ``mae_kcal_mol`` (scored), ``mae_ev``
        (the paper's Table VI unit), ``rmse_kcal_mol``, ..., per-category MAE in
        ``data["group_mae"]``.
    """
    result, _ = score_differences(
        "s24",
        "surfaces",
        calculator,
        load_s24(root),
        also_in=("ev",),
        on_error=on_error,
        data={"quantity": "adsorption energy"},
    )
    return result
