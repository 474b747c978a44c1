"""Molecular benchmarks on the reference data that ASE ships: S22, S26, S22x5 and DBH24.

**S22, S26, S22x5** (``ase.data.s22``): interaction energies of noncovalent dimers,

    E_int = E(dimer) − E(monomer A) − E(monomer B),

with both monomers cut out of the dimer geometry (no relaxation, no counterpoise: a
potential has no basis-set superposition error). The references are ASE's CCSD(T)/CBS
values (eV in ``ase.data.s22``; reported here in kcal/mol). For S22x5 the five points of
each curve (0.9, 1.0, 1.2, 1.5 and 2.0 times the equilibrium intermolecular distance) use
ASE's S22x5 values rescaled so that the 1.0 point equals the S22 value
(``get_interaction_energy_s22x5(..., correct_offset=True)``, ASE's default). ASE lists the
monomer sizes of the S22 dimers; the four dimers that S26 adds are split into their two
molecules by covalent connectivity.

**DBH24** (``ase.data.dbh24``): 12 reactions (heavy-atom and hydrogen transfer,
nucleophilic substitution, unimolecular and association), forward and backward barriers

    V_f = E(TS) − Σ E(reactants),  V_b = E(TS) − Σ E(products),

against the references of Zheng, Zhao and Truhlar (kcal/mol). DBH24 contains radicals
and anions. Each structure carries its total charge and spin multiplicity in
``atoms.info`` (``charge``, ``multiplicity``, ``spin``), as initial charges and as initial
magnetic moments, which is how tblite's ASE calculator reads them; a machine-learning
potential without charge/spin inputs ignores them, so its NS (anionic) barriers are
reported apart as well (``mae_neutral_kcal_mol`` leaves them out).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from ase.data import dbh24 as _dbh24
from ase.data import s22 as _s22
from ase.neighborlist import NeighborList, natural_cutoffs
from scipy.sparse.csgraph import connected_components

from ._result import BenchmarkResult
from .external._evaluate import EnergyEvaluator, reaction_result, set_charge_and_multiplicity
from .external._units import KCAL_MOL

__all__ = ["dbh24", "dimer_fragments", "s22", "s22x5", "s26"]

#: S22/S26 numbers of each binding type (Jurecka et al. 2006; the four S26 additions are
#: single hydrogen bonds).
_S26_GROUPS = {
    "hydrogen_bonded": (1, 2, 3, 4, 5, 6, 7, 23, 24, 25, 26),
    "dispersion": (8, 9, 10, 11, 12, 13, 14, 15),
    "mixed": (16, 17, 18, 19, 20, 21, 22),
}
_S22X5_DISTANCES = ("0.9", "1.0", "1.2", "1.5", "2.0")


def dimer_fragments(atoms: Atoms) -> list[np.ndarray]:
    """Atom indices of the covalently bonded fragments of ``atoms``.

    Two atoms are bonded when their distance is below the sum of their covalent radii
    (``ase.neighborlist.natural_cutoffs``). Fragments are ordered by their first atom.
    """
    nl = NeighborList(natural_cutoffs(atoms), self_interaction=False, bothways=True)
    nl.update(atoms)
    _, labels = connected_components(nl.get_connectivity_matrix(sparse=True), directed=False)
    first = {}
    for i, label in enumerate(labels):
        first.setdefault(label, i)
    return [np.flatnonzero(labels == label) for label in sorted(first, key=first.get)]


def _monomers(name: str, atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Indices of monomers A and B of an S22/S26/S22x5 dimer."""
    base = _s22.identify_s22_sys(name)[2]
    sizes = _s22.data[base].get("dimer atoms")
    if sizes is not None:
        n_a = int(sizes[0])
        if n_a + int(sizes[1]) != len(atoms):
            raise ValueError(f"s22 data: dimer sizes {sizes} do not add up for {name!r}")
        return np.arange(n_a), np.arange(n_a, len(atoms))
    fragments = dimer_fragments(atoms)
    if len(fragments) != 2:
        raise ValueError(f"{name!r}: expected two molecules, found {len(fragments)} fragments")
    return fragments[0], fragments[1]


def _closed_shell(atoms: Atoms) -> Atoms:
    return set_charge_and_multiplicity(atoms, 0, 1)


def _interaction_energies(
    benchmark: str,
    calculator: BaseCalculator,
    names: Sequence[str],
    on_error: str,
) -> tuple[list[float], dict[str, list[float]], EnergyEvaluator]:
    evaluate = EnergyEvaluator(calculator, benchmark, on_error)
    predicted, parts = [], {"e_dimer_ev": [], "e_monomer_a_ev": [], "e_monomer_b_ev": []}
    for name in names:
        dimer = _closed_shell(_s22.create_s22_system(name))
        idx_a, idx_b = _monomers(name, dimer)
        e_ab = evaluate(f"{name}/dimer", dimer)
        e_a = evaluate(f"{name}/A", _closed_shell(dimer[idx_a]))
        e_b = evaluate(f"{name}/B", _closed_shell(dimer[idx_b]))
        predicted.append(e_ab - e_a - e_b)
        parts["e_dimer_ev"].append(e_ab)
        parts["e_monomer_a_ev"].append(e_a)
        parts["e_monomer_b_ev"].append(e_b)
    return predicted, parts, evaluate


def _group_maes(
    names: Sequence[str], reference: Sequence[float], predicted: Sequence[float]
) -> dict[str, float]:
    out = {}
    for group, numbers in _S26_GROUPS.items():
        errors = [
            abs(p - r) / KCAL_MOL
            for n, r, p in zip(names, reference, predicted, strict=True)
            if int(_s22.get_s22_number(n)) in numbers and np.isfinite(p)
        ]
        if errors:
            out[f"mae_{group}_kcal_mol"] = float(np.mean(errors))
    return out


def _s22_family(
    benchmark: str, names: Sequence[str], calculator: BaseCalculator, on_error: str
) -> BenchmarkResult:
    reference = [float(_s22.get_interaction_energy_cc(n)) for n in names]
    predicted, parts, evaluate = _interaction_energies(benchmark, calculator, names, on_error)
    groups = _group_maes(names, reference, predicted)
    return reaction_result(
        benchmark,
        "molecules",
        calculator,
        list(names),
        reference,
        predicted,
        extra_metrics=groups,
        extra_units=dict.fromkeys(groups, "kcal/mol"),
        data={
            **parts,
            "quantity": "interaction energy",
            "reference_level": "CCSD(T)/CBS (ase.data.s22)",
        },
        failures=evaluate.failures,
    )


def s22(calculator: BaseCalculator, *, on_error: str = "raise") -> BenchmarkResult:
    """S22 interaction energies of 22 noncovalent dimers against CCSD(T)/CBS.

    Args:
        calculator: Any ASE calculator.
        on_error: ``"raise"`` or ``"skip"`` (see `EnergyEvaluator`).

    Returns:
        ``BenchmarkResult("s22", "molecules")`` with ``mae_kcal_mol``, ``rmse_kcal_mol``,
        ``max_abs_error_kcal_mol``, ``mean_signed_error_kcal_mol``, ``n_systems`` and the
        MAE of the hydrogen-bonded, dispersion and mixed groups; ``data`` holds
        ``systems``, ``reference`` and ``predicted`` (kcal/mol) and the total energies.

    Example:
        >>> from ase.calculators.emt import EMT
        >>> result = s22(EMT())  # doctest: +SKIP
        >>> result.metrics["mae_kcal_mol"]  # doctest: +SKIP
    """
    return _s22_family("s22", _s22.s22, calculator, on_error)


def s26(calculator: BaseCalculator, *, on_error: str = "raise") -> BenchmarkResult:
    """S26 (S22 plus four singly hydrogen-bonded dimers) interaction energies.

    Same protocol and metrics as `s22`, name ``"s26"``.
    """
    return _s22_family("s26", _s22.s26, calculator, on_error)


def s22x5(calculator: BaseCalculator, *, on_error: str = "raise") -> BenchmarkResult:
    """S22x5: the S22 dimers at 0.9, 1.0, 1.2, 1.5 and 2.0 times their separation.

    Args:
        calculator: Any ASE calculator.
        on_error: ``"raise"`` or ``"skip"``.

    Returns:
        ``BenchmarkResult("s22x5", "molecules")`` with the metrics of `s22` over all
        110 points plus ``mae_x<d>_kcal_mol`` for each relative distance ``d``.
    """
    names = list(_s22.s22x5)
    reference = [float(_s22.get_interaction_energy_s22x5(n, correct_offset=True)) for n in names]
    predicted, parts, evaluate = _interaction_energies("s22x5", calculator, names, on_error)
    extra = {}
    for d in _S22X5_DISTANCES:
        errors = [
            abs(p - r) / KCAL_MOL
            for n, r, p in zip(names, reference, predicted, strict=True)
            if n.endswith(f"_{d}") and np.isfinite(p)
        ]
        if errors:
            extra[f"mae_x{d}_kcal_mol"] = float(np.mean(errors))
    return reaction_result(
        "s22x5",
        "molecules",
        calculator,
        names,
        reference,
        predicted,
        extra_metrics=extra,
        extra_units=dict.fromkeys(extra, "kcal/mol"),
        data={
            **parts,
            "relative_distance": [float(n.rsplit("_", 1)[1]) for n in names],
            "quantity": "interaction energy",
            "reference_level": "CCSD(T)/CBS (ase.data.s22, S22x5 rescaled to S22)",
        },
        failures=evaluate.failures,
    )


def _dbh24_species(name: str) -> Atoms:
    entry = _dbh24.data[name]
    atoms = Atoms(entry["symbols"], entry["positions"])
    magmoms = entry["magmoms"]
    unpaired = round(sum(magmoms)) if magmoms else 0
    return set_charge_and_multiplicity(atoms, round(entry["charge"]), unpaired + 1, magmoms=magmoms)


def dbh24(calculator: BaseCalculator, *, on_error: str = "raise") -> BenchmarkResult:
    """DBH24 forward and backward barrier heights of 12 gas-phase reactions.

    Args:
        calculator: Any ASE calculator. Charge and multiplicity are passed through
            ``atoms.info``, initial charges and initial magnetic moments.
        on_error: ``"raise"`` or ``"skip"``.

    Returns:
        ``BenchmarkResult("dbh24", "molecules")`` with ``mae_kcal_mol`` (24 barriers),
        ``rmse_kcal_mol``, ``max_abs_error_kcal_mol``, ``mean_signed_error_kcal_mol``,
        the MAE per reaction type (``mae_HAT_kcal_mol``, ``mae_NS_kcal_mol``,
        ``mae_UA_kcal_mol``, ``mae_HT_kcal_mol``) and ``mae_neutral_kcal_mol`` (all but the
        anionic NS reactions). ``data`` lists each barrier's reaction, direction and charge.
    """
    evaluate = EnergyEvaluator(calculator, "dbh24", on_error)

    def energy(names: Sequence[str]) -> float:
        return sum(evaluate(n, _dbh24_species(n)) for n in names)

    systems, reference, predicted, kinds, charges = [], [], [], [], []
    for key, reaction in _dbh24.dbh24_reaction_list.items():
        ts = reaction["tst"]
        e_ts = energy([ts])
        kind = reaction["description"].split()[0]
        label = f"{key.removeprefix('dbh24_')} {reaction['description']}"
        for direction, side, ref_key in (
            ("forward", reaction["initial"], "Vf"),
            ("backward", reaction["final"], "Vb"),
        ):
            systems.append(f"{label} {direction}")
            reference.append(float(_dbh24.data[ts][ref_key]) * KCAL_MOL)
            predicted.append(e_ts - energy(side))
            kinds.append(kind)
            charges.append(round(_dbh24.data[ts]["charge"]))

    extra = {}
    err = np.abs(np.asarray(predicted) - np.asarray(reference)) / KCAL_MOL
    ok = np.isfinite(err)
    for kind in dict.fromkeys(kinds):
        mask = ok & (np.asarray(kinds) == kind)
        if mask.any():
            extra[f"mae_{kind}_kcal_mol"] = float(err[mask].mean())
    neutral = ok & (np.asarray(charges) == 0)
    if neutral.any():
        extra["mae_neutral_kcal_mol"] = float(err[neutral].mean())
    return reaction_result(
        "dbh24",
        "molecules",
        calculator,
        systems,
        reference,
        predicted,
        extra_metrics=extra,
        extra_units=dict.fromkeys(extra, "kcal/mol"),
        data={
            "reaction_type": kinds,
            "charge": charges,
            "quantity": "barrier height",
            "reference_level": "Zheng, Zhao, Truhlar 2009 (ase.data.dbh24)",
        },
        failures=evaluate.failures,
    )
