"""Wiggle150: relative energies of 150 strained conformers (paper §XI.A).

Adenosine, benzylpenicillin and efavirenz, 50 strained conformers each, with energies
relative to each molecule's ground-state conformer (DLPNO-CCSD(T)/CBS, kcal/mol):

    ΔE = E(conformer) − E(ground-state conformer).

Data layout (``root``):

- ``structures.extxyz``: every conformer, ground states included, one frame each with
  ``info`` ``name=<conformer>``.
- ``reference.csv``: columns ``name``, ``relative_to`` (the ground-state conformer's name)
  and ``relative_energy_<unit>`` (``kcal_mol``, ``kj_mol``, ``ev`` or ``mev``); optional
  ``group`` (the molecule; defaults to ``relative_to``).
"""

from __future__ import annotations

from pathlib import Path

from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._io import (
    REFERENCE,
    BenchmarkDataError,
    energy_column,
    frame,
    load_structures,
    read_csv,
    require_file,
)
from ._reactions import EnergyDifference, Term, score_differences

__all__ = ["load_relative_energies", "load_wiggle150", "wiggle150"]


def load_relative_energies(root: str | Path, benchmark: str) -> list[EnergyDifference]:
    """``E(name) − E(relative_to)`` per row of a relative-energy data directory."""
    table, path = load_structures(root, benchmark, ("name",))
    ref_path = require_file(root, REFERENCE, benchmark)
    rows = read_csv(ref_path, ["name", "relative_to"], benchmark)
    values = energy_column(rows, "relative_energy", ref_path, benchmark)
    out = []
    for row, value in zip(rows, values, strict=True):
        name, base = row["name"], row["relative_to"]
        atoms = frame(table, (name,), ("name",), path, benchmark)
        ground = frame(table, (base,), ("name",), path, benchmark)
        if sorted(atoms.get_chemical_symbols()) != sorted(ground.get_chemical_symbols()):
            raise BenchmarkDataError(
                f"{benchmark}: {path}: {name!r} ({atoms.get_chemical_formula()}) and "
                f"{base!r} ({ground.get_chemical_formula()}) are not conformers of one molecule"
            )
        out.append(
            EnergyDifference(
                name=name,
                terms=(Term(1.0, name, atoms), Term(-1.0, base, ground)),
                reference_ev=value,
                group=row.get("group") or base,
            )
        )
    return out


def load_wiggle150(root: str | Path) -> list[EnergyDifference]:
    """Read the Wiggle150 data directory (layout in the module docstring)."""
    return load_relative_energies(root, "wiggle150")


def wiggle150(
    calculator: BaseCalculator, root: str | Path, *, on_error: str = "raise"
) -> BenchmarkResult:
    """Wiggle150 relative conformer energies against the references in ``root``.

    Returns:
        ``BenchmarkResult("wiggle150", "molecules")`` with ``mae_kcal_mol`` (scored),
        ``rmse_kcal_mol``, ... and the MAE per molecule in ``data["group_mae"]``.
    """
    result, _ = score_differences(
        "wiggle150",
        "molecules",
        calculator,
        load_wiggle150(root),
        on_error=on_error,
        data={"quantity": "relative conformer energy"},
    )
    return result
