"""``mol`` (GFN2-xTB) and ``mol-base`` (GFN1-xTB): molecules, conformers, dimers."""

from __future__ import annotations

import numpy as np

from .._configuration import Configuration
from ._molecules import DIMER_MONOMERS, MOL_BASE_SMILES, MOL_SMILES, g2_names
from ._sampling import hessian, label_all, langevin_md, normal_mode_samples, rattle, relax
from ._task import Task

METHODS = {"mol": "GFN2-xTB", "mol-base": "GFN1-xTB"}

#: per-dataset sampling counts
COUNTS = {
    "mol": {"conformers": 4, "nms": 8, "rattle": 4, "md_steps": 60, "md_every": 5},
    "mol-base": {"conformers": 4, "nms": 4, "rattle": 4, "md_steps": 72, "md_every": 6},
}
N_DIMER_FRAMES = 10


def _smiles_formula(smiles: str) -> str:
    from ase import Atoms
    from rdkit import Chem

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    return Atoms([a.GetSymbol() for a in mol.GetAtoms()]).get_chemical_formula()


def _g2_formulas() -> set[str]:
    from ase.build import molecule

    return {molecule(name).get_chemical_formula() for name in g2_names()}


def tasks(dataset: str, seed: int) -> list[Task]:
    """All tasks of ``mol`` or ``mol-base``; molecules never share a formula across sets."""
    out = []
    g2_formulas = _g2_formulas()
    if dataset == "mol":
        for name in g2_names():
            out.append(Task("mol", f"g2:{name}", f"g2:{name}", {"g2": name}, seed))
        for name, smi in MOL_SMILES.items():
            if _smiles_formula(smi) in g2_formulas:
                continue
            out.append(Task("mol", f"smiles:{name}", f"smiles:{name}", {"smiles": smi}, seed))
        for i, a in enumerate(DIMER_MONOMERS):
            for b in DIMER_MONOMERS[i:]:
                key = f"dimer:{a}+{b}"
                out.append(Task("mol", key, key, {"dimer": [a, b]}, seed))
        return out
    taken = g2_formulas | {_smiles_formula(s) for s in MOL_SMILES.values()}
    for name, smi in MOL_BASE_SMILES.items():
        if _smiles_formula(smi) in taken:
            continue
        key = f"smiles:{name}"
        out.append(Task("mol-base", key, key, {"smiles": smi}, seed))
    return out


def conformers(smiles: str, count: int, seed: int):
    """ETKDG conformers (``ase.Atoms``) of a SMILES string, deterministic for ``seed``."""
    from ase import Atoms
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    params.numThreads = 1
    ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=count, params=params))
    if not ids:
        raise RuntimeError(f"ETKDG failed for {smiles}")
    symbols = [a.GetSymbol() for a in mol.GetAtoms()]
    return [Atoms(symbols, positions=mol.GetConformer(i).GetPositions()) for i in ids]


def dimer_structures(task: Task):
    """Randomly oriented dimers at closest-contact distances of 1.7–5 Å."""
    from ase.build import molecule

    name_a, name_b = task.params["dimer"]
    rng = task.rng("dimer")
    out = []
    for _ in range(N_DIMER_FRAMES):
        a = molecule(name_a)
        b = molecule(name_b)
        a.positions -= a.get_center_of_mass()
        b.positions -= b.get_center_of_mass()
        b.rotate(float(rng.uniform(0, 360)), rng.normal(size=3), center=(0, 0, 0))
        a.rotate(float(rng.uniform(0, 360)), rng.normal(size=3), center=(0, 0, 0))
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        target = float(rng.uniform(1.7, 5.0))
        lo, hi = 0.0, 20.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            d = np.linalg.norm(a.positions[:, None] - (b.positions + mid * u)[None], axis=2)
            lo, hi = (mid, hi) if d.min() < target else (lo, mid)
        b.positions += hi * u
        out.append(a + b)
    return out


def initial_structures(task: Task):
    """Start geometries of a task, built from the seed alone (no electronic structure)."""
    from ase.build import molecule

    if "g2" in task.params:
        return [molecule(task.params["g2"])]
    if "dimer" in task.params:
        return dimer_structures(task)
    count = COUNTS[task.dataset]["conformers"]
    seed = int(task.rng("etkdg").integers(2**31 - 1))
    return conformers(task.params["smiles"], count, seed)


def run(task: Task, log: list) -> dict[str, list[Configuration]]:
    """Label a molecule family: relaxation, conformers, normal modes, rattles, MD."""
    method = METHODS[task.dataset]
    structures = initial_structures(task)
    for s in structures:
        s.set_initial_magnetic_moments(None)
    if "dimer" in task.params:
        return label_all(structures, method, "dimer", False, log)
    counts = COUNTS[task.dataset]
    frames: list[Configuration] = []
    frames += label_all(structures[1:], method, "conformer", False, log)
    relaxed, relax_frames = relax(structures[0], method, False, 0.03, 60, "none", log)
    frames += relax_frames[::5]
    rng = task.rng("sample")
    hess = hessian(relaxed, method)
    temperature = float(rng.uniform(300.0, 1000.0))
    nms = normal_mode_samples(relaxed, hess, rng, temperature, counts["nms"])
    frames += label_all(nms, method, "normal_mode", False, log)
    rattled = [rattle(relaxed, rng, rng.uniform(0.02, 0.08)) for _ in range(counts["rattle"])]
    frames += label_all(rattled, method, "rattle", False, log)
    temperature = float(rng.uniform(300.0, 900.0))
    start = structures[-1] if len(structures) > 1 else relaxed
    frames += langevin_md(
        start, method, False, rng, temperature, 0.5, counts["md_steps"], counts["md_every"], log
    )
    return {task.family: frames}
