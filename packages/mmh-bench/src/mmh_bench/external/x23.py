"""X23: lattice energies of 23 molecular crystals (paper §IX.A).

The lattice energy per molecule is

    E_latt = E(crystal) / Z − E(molecule in the gas phase),

with Z the number of molecules in the crystal's cell (negative for a bound crystal). The
references of the paper are the diffusion Monte Carlo lattice energies of the X23 set.

Data layout (``root``):

- ``structures.extxyz``: per system one periodic frame with ``info`` ``system=<name>``,
  ``role=crystal`` and one isolated molecule with ``role=molecule``. Z is the ratio of
  their atom counts (the crystal's composition must be Z times the molecule's).
- ``reference.csv``: columns ``system`` and ``lattice_energy_<unit>`` (``kj_mol``,
  ``kcal_mol``, ``ev`` or ``mev``), negative for bound crystals.
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

__all__ = ["load_x23", "molecules_per_cell", "x23"]

_KEYS = ("system", "role")


def molecules_per_cell(crystal_symbols: list[str], molecule_symbols: list[str]) -> int:
    """Z: how many molecules of the given composition make up the crystal's cell."""
    from collections import Counter

    crystal, molecule = Counter(crystal_symbols), Counter(molecule_symbols)
    if not molecule or set(crystal) != set(molecule):
        raise ValueError(
            f"the crystal's elements {sorted(crystal)} differ from the molecule's "
            f"{sorted(molecule)}"
        )
    z, remainder = divmod(len(crystal_symbols), len(molecule_symbols))
    if remainder or any(crystal[s] != z * molecule[s] for s in molecule):
        raise ValueError(
            f"the crystal ({dict(crystal)}) is not a whole number of molecules ({dict(molecule)})"
        )
    return z


def load_molecular_crystals(
    root: str | Path, benchmark: str, *, require_negative: bool = True
) -> list[EnergyDifference]:
    """Lattice energies ``E(crystal)/Z − E(molecule)`` from the X23 data layout."""
    table, path = load_structures(root, benchmark, _KEYS)
    ref_path = require_file(root, REFERENCE, benchmark)
    rows = read_csv(ref_path, ["system"], benchmark)
    values = energy_column(rows, "lattice_energy", ref_path, benchmark)
    if require_negative and all(v > 0 for v in values):
        raise BenchmarkDataError(
            f"{benchmark}: every lattice energy in {ref_path} is positive; this format uses "
            "E(crystal)/Z - E(molecule), negative for bound crystals (negate sublimation-"
            "style values)"
        )
    out = []
    for row, value in zip(rows, values, strict=True):
        system = row["system"]
        crystal = frame(table, (system, "crystal"), _KEYS, path, benchmark)
        molecule = frame(table, (system, "molecule"), _KEYS, path, benchmark)
        if not crystal.pbc.all():
            raise BenchmarkDataError(f"{benchmark}: {path}: crystal of {system!r} is not periodic")
        try:
            z = molecules_per_cell(crystal.get_chemical_symbols(), molecule.get_chemical_symbols())
        except ValueError as exc:
            raise BenchmarkDataError(f"{benchmark}: {path}: {system!r}: {exc}") from exc
        out.append(
            EnergyDifference(
                name=system,
                terms=(
                    Term(1.0 / z, f"{system}/crystal", crystal),
                    Term(-1.0, f"{system}/molecule", molecule),
                ),
                reference_ev=value,
                meta={"z": z},
            )
        )
    return out


def load_x23(root: str | Path) -> list[EnergyDifference]:
    """Read the X23 data directory (layout in the module docstring)."""
    return load_molecular_crystals(root, "x23")


def x23(
    calculator: BaseCalculator, root: str | Path, *, on_error: str = "raise"
) -> BenchmarkResult:
    """X23 lattice energies against the references in ``root``.

    Args:
        calculator: Any ASE calculator that handles periodic cells and molecules.
        root: The X23 data directory.
        on_error: ``"raise"`` or ``"skip"`` (leave out systems whose calculation fails).

    Returns:
        ``BenchmarkResult("x23", "molecular_crystals")`` with ``mae_kcal_mol`` (scored),
        ``mae_kj_mol`` (the paper's Table IV unit), ``rmse_kcal_mol``, ... and per-system
        ``reference``/``predicted`` lattice energies in kcal/mol.
    """
    differences = load_x23(root)
    result, _ = score_differences(
        "x23",
        "molecular_crystals",
        calculator,
        differences,
        also_in=("kj_mol",),
        on_error=on_error,
        data={
            "quantity": "lattice energy per molecule",
            "molecules_per_cell": {d.name: d.meta["z"] for d in differences},
        },
    )
    return result
