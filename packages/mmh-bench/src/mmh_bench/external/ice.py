"""Ice polymorphs: relative lattice energies of the DMC-ICE13 polymorphs (paper §IX.B).

The relative lattice energy of polymorph p with respect to ice Ih is

    ΔE_p = E(p) / N_p − E(Ih) / N_Ih,

with N the number of water molecules in each cell; the gas-phase molecule cancels. The
paper reports the MAE in meV per molecule (Table V); the score uses kcal/mol.

Data layout (``root``):

- ``structures.extxyz``: one periodic frame per polymorph with ``info`` ``system=<name>``
  (e.g. ``Ih``, ``II``, ``III``, ...) and ``role=crystal``; optionally one isolated water
  molecule with ``role=molecule`` (any ``system``), for absolute lattice energies.
- ``reference.csv``: column ``system`` and either ``lattice_energy_<unit>`` (absolute
  lattice energies per molecule, E(crystal)/N − E(molecule)) or ``relative_energy_<unit>``
  (already relative to the reference polymorph), ``unit`` one of ``mev``, ``ev``,
  ``kcal_mol``, ``kj_mol``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._evaluate import reaction_result
from ._io import (
    REFERENCE,
    BenchmarkDataError,
    energy_column,
    frame,
    load_structures,
    read_csv,
    require_file,
)
from ._reactions import EnergyDifference, Term, predict
from ._units import KCAL_MOL

__all__ = ["ice_polymorphs", "load_ice_polymorphs", "water_molecules"]

_KEYS = ("system", "role")


def water_molecules(atoms: Atoms) -> int:
    """Number of H2O units of a cell (raises if it is not pure water)."""
    symbols = atoms.get_chemical_symbols()
    n_o, n_h = symbols.count("O"), symbols.count("H")
    if n_o == 0 or n_h != 2 * n_o or n_o + n_h != len(symbols):
        raise ValueError(f"{atoms.get_chemical_formula()} is not a whole number of H2O")
    return n_o


def load_ice_polymorphs(
    root: str | Path, reference_system: str = "Ih"
) -> tuple[list[EnergyDifference], list[EnergyDifference]]:
    """Read the ice data directory.

    Args:
        root: The data directory (layout in the module docstring).
        reference_system: The polymorph the energies are relative to.

    Returns:
        ``(relative, absolute)``: the relative lattice energies of every polymorph but the
        reference one, and the absolute lattice energies (empty unless the file has a
        ``role=molecule`` frame and the table gives absolute lattice energies).
    """
    benchmark = "ice_polymorphs"
    table, path = load_structures(root, benchmark, _KEYS)
    ref_path = require_file(root, REFERENCE, benchmark)
    rows = read_csv(ref_path, ["system"], benchmark)
    absolute = any(k.startswith("lattice_energy_") for k in rows[0])
    values = energy_column(
        rows, "lattice_energy" if absolute else "relative_energy", ref_path, benchmark
    )
    by_system = {row["system"]: v for row, v in zip(rows, values, strict=True)}
    if absolute and reference_system not in by_system:
        raise BenchmarkDataError(
            f"{benchmark}: {ref_path} has no row for the reference polymorph {reference_system!r}"
        )
    base = by_system.get(reference_system, 0.0)

    def crystal(system: str) -> tuple[Atoms, int]:
        atoms = frame(table, (system, "crystal"), _KEYS, path, benchmark)
        try:
            return atoms, water_molecules(atoms)
        except ValueError as exc:
            raise BenchmarkDataError(f"{benchmark}: {path}: {system!r}: {exc}") from exc

    ref_atoms, ref_n = crystal(reference_system)
    molecules = [key for key in table if key[1] == "molecule"]
    if len(molecules) > 1:
        raise BenchmarkDataError(f"{benchmark}: {path} has more than one role=molecule frame")
    relative, lattice = [], []
    for system, value in by_system.items():
        atoms, n = crystal(system)
        if system != reference_system:
            relative.append(
                EnergyDifference(
                    name=system,
                    terms=(
                        Term(1.0 / n, f"{system}/crystal", atoms),
                        Term(-1.0 / ref_n, f"{reference_system}/crystal", ref_atoms),
                    ),
                    reference_ev=value - base,
                )
            )
        if absolute and molecules:
            water = table[molecules[0]]
            if water_molecules(water) != 1:
                raise BenchmarkDataError(f"{benchmark}: {path}: the molecule frame is not H2O")
            lattice.append(
                EnergyDifference(
                    name=system,
                    terms=(
                        Term(1.0 / n, f"{system}/crystal", atoms),
                        Term(-1.0, "water/molecule", water),
                    ),
                    reference_ev=value,
                )
            )
    return relative, lattice


def ice_polymorphs(
    calculator: BaseCalculator,
    root: str | Path,
    *,
    reference_system: str = "Ih",
    on_error: str = "raise",
) -> BenchmarkResult:
    """Relative lattice energies of ice polymorphs against the references in ``root``.

    Args:
        calculator: Any ASE calculator that handles periodic cells.
        root: The data directory.
        reference_system: The polymorph the energies are relative to.
        on_error: ``"raise"`` or ``"skip"``.

    Returns:
        ``BenchmarkResult("ice_polymorphs", "molecular_crystals")`` with ``mae_kcal_mol``
        (scored), ``mae_mev`` (per molecule, as the paper's Table V) and, when absolute
        lattice energies and the molecule are given, ``absolute_mae_kcal_mol``.
    """
    relative, lattice = load_ice_polymorphs(root, reference_system)
    predicted, evaluate = predict(calculator, [*relative, *lattice], "ice_polymorphs", on_error)
    rel_pred, abs_pred = predicted[: len(relative)], predicted[len(relative) :]
    extra, units = {}, {}
    ok = [(d, p) for d, p in zip(relative, rel_pred, strict=True) if math.isfinite(p)]
    extra["mae_mev"] = (
        float(np.mean([abs(p - d.reference_ev) for d, p in ok])) * 1e3 if ok else math.nan
    )
    units["mae_mev"] = "meV"
    data = {"quantity": "lattice energy relative to " + reference_system + " per molecule"}
    if lattice:
        pairs = [(d, p) for d, p in zip(lattice, abs_pred, strict=True) if math.isfinite(p)]
        extra["absolute_mae_kcal_mol"] = (
            float(np.mean([abs(p - d.reference_ev) for d, p in pairs])) / KCAL_MOL
            if pairs
            else math.nan
        )
        units["absolute_mae_kcal_mol"] = "kcal/mol"
        data["absolute_systems"] = [d.name for d, _ in pairs]
        data["absolute_reference"] = [d.reference_ev / KCAL_MOL for d, _ in pairs]
        data["absolute_predicted"] = [p / KCAL_MOL for _, p in pairs]
    return reaction_result(
        "ice_polymorphs",
        "molecular_crystals",
        calculator,
        [d.name for d in relative],
        [d.reference_ev for d in relative],
        rel_pred,
        extra_metrics=extra,
        extra_units=units,
        data=data,
        failures=evaluate.failures,
    )
