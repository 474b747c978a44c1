"""Energy units of the benchmarks, as multiples of the eV."""

from __future__ import annotations

from ase.units import kcal, kJ, mol

__all__ = ["ENERGY_UNITS", "KCAL_MOL", "KJ_MOL"]

#: One kcal/mol in eV.
KCAL_MOL = kcal / mol
#: One kJ/mol in eV.
KJ_MOL = kJ / mol
#: Unit suffixes of the reference-table columns and their size in eV.
ENERGY_UNITS = {"ev": 1.0, "mev": 1e-3, "kcal_mol": KCAL_MOL, "kj_mol": KJ_MOL}
