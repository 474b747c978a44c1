"""``surf``: metal and oxide slabs with small adsorbates at GFN1-xTB (energy and forces)."""

from __future__ import annotations

import numpy as np

from .._configuration import Configuration
from ._sampling import label_all, langevin_md, rattle, relax
from ._task import Task

METHOD = "GFN1-xTB"

#: surface id -> (builder, element or formula, starting lattice constant in Å)
SURFACES: dict[str, tuple[str, str, float]] = {
    "Cu(111)": ("fcc111", "Cu", 3.61),
    "Pd(111)": ("fcc111", "Pd", 3.89),
    "Pt(111)": ("fcc111", "Pt", 3.92),
    "Al(111)": ("fcc111", "Al", 4.05),
    "Cu(100)": ("fcc100", "Cu", 3.61),
    "MgO(001)": ("rocksalt001", "MgO", 4.21),
}

#: adsorbate id -> (number of copies, atoms relative to the binding atom at the origin)
ADSORBATES: dict[str, tuple[int, list[tuple[str, tuple[float, float, float]]]]] = {
    "clean": (0, []),
    "H": (2, [("H", (0.0, 0.0, 0.0))]),
    "O": (1, [("O", (0.0, 0.0, 0.0))]),
    "OH": (2, [("O", (0.0, 0.0, 0.0)), ("H", (0.0, 0.0, 0.97))]),
    "CO": (1, [("C", (0.0, 0.0, 0.0)), ("O", (0.0, 0.0, 1.15))]),
    "H2O": (1, [("O", (0.0, 0.0, 0.0)), ("H", (0.76, 0.0, 0.59)), ("H", (-0.76, 0.0, 0.59))]),
    "CH3": (
        2,
        [
            ("C", (0.0, 0.0, 0.0)),
            ("H", (1.03, 0.0, 0.36)),
            ("H", (-0.515, 0.892, 0.36)),
            ("H", (-0.515, -0.892, 0.36)),
        ],
    ),
}

#: height (Å) of the binding atom above the top layer: (on top, hollow)
HEIGHTS = {"H": (1.55, 1.0), "O": (1.85, 1.2), "C": (1.85, 1.4)}

N_RATTLE = 3
MD_STEPS = 5
VACUUM = 6.0
#: independent rounds per surface (new adsorption sites, rattles and MD each round)
ROUNDS = 2


def _bulk_and_slab(surface: str, a: float):
    """A periodic bulk cell and a slab with the same in-plane lattice (12–16 atoms)."""
    from ase.build import bulk, fcc100, fcc111
    from ase.build import surface as cut

    kind, element, _ = SURFACES[surface]
    if kind == "fcc111":
        return (
            fcc111(element, (2, 2, 3), a=a, periodic=True),
            fcc111(element, (2, 2, 3), a=a, vacuum=VACUUM),
        )
    if kind == "fcc100":
        return (
            fcc100(element, (2, 2, 2), a=a, periodic=True),
            fcc100(element, (2, 2, 3), a=a, vacuum=VACUUM),
        )
    cubic = bulk(element, "rocksalt", a=a, cubic=True)
    slab = cut(cubic, (0, 0, 1), 1, vacuum=VACUUM)
    return cubic, slab


def _lateral_distance(p, q, cell) -> float:
    frac = np.linalg.solve(cell.T, np.asarray(p) - np.asarray(q))
    return float(np.linalg.norm((frac - np.round(frac)) @ cell))


def _top_sites(slab, rng: np.random.Generator, count: int):
    """Pick ``count`` distinct adsorption sites: (xy, hollow?) above the top layer."""
    z = slab.positions[:, 2]
    top = np.where(z > z.max() - 0.5)[0]
    cell = slab.cell[:2, :2]
    sites = []
    for i in top:
        sites.append((slab.positions[i, :2], False))
    # hollow-like sites: centroid of an atom and two in-plane neighbours (minimum image)
    for i in top:
        d = slab.positions[top, :2] - slab.positions[i, :2]
        frac = np.linalg.solve(cell.T, d.T).T
        frac -= np.round(frac)
        d = frac @ cell
        near = np.argsort(np.linalg.norm(d, axis=1))[1:3]
        sites.append((slab.positions[i, :2] + d[near].sum(axis=0) / 3.0, True))
    order = rng.permutation(len(sites))
    chosen: list = []
    if count == 0:
        return chosen, z.max()
    # greedy choice in random order; on-top sites only as a second try (small cells)
    for candidates in (order, [k for k in order if not sites[k][1]]):
        chosen = []
        for k in candidates:
            xy, hollow = sites[k]
            if all(_lateral_distance(xy, c[0], cell) > 2.4 for c in chosen):
                chosen.append((xy, hollow))
            if len(chosen) == count:
                return chosen, z.max()
    if len(chosen) < count:
        raise RuntimeError(f"found only {len(chosen)} of {count} separated adsorption sites")
    return chosen, z.max()


def initial_structure(task: Task, a: float):
    """Slab of lattice constant ``a`` with the task's adsorbates (placement from the seed)."""
    from ase import Atoms
    from ase.constraints import FixAtoms

    surface, adsorbate = task.params["surface"], task.params["adsorbate"]
    _, slab = _bulk_and_slab(surface, a)
    copies, parts = ADSORBATES[adsorbate]
    rng = task.rng("sites")
    sites, ztop = _top_sites(slab, rng, copies)
    for xy, hollow in sites:
        angle = rng.uniform(0, 2 * np.pi)
        rot = np.array(
            [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
        )
        height = HEIGHTS[parts[0][0]][1 if hollow else 0]
        base = np.array([xy[0], xy[1], ztop + height])
        syms = [p[0] for p in parts]
        pos = [base + rot @ np.array(p[1]) for p in parts]
        slab += Atoms(syms, positions=pos)
    slab.pbc = (True, True, False)
    z = slab.positions[:, 2]
    slab.set_constraint(FixAtoms(mask=z < z.min() + 0.5))
    slab.set_initial_magnetic_moments(None)
    return slab


def tasks(seed: int) -> list[Task]:
    """All tasks of ``surf``: one per surface and round (adsorbate systems are the families)."""
    out = []
    for r in range(ROUNDS):
        for surface in SURFACES:
            key = surface if r == 0 else f"{surface}#{r}"
            params = {"surface": surface, "adsorbates": list(ADSORBATES), "round": r}
            out.append(Task("surf", key, surface, params, seed))
    return out


def system_task(task: Task, adsorbate: str) -> Task:
    """The task of one (surface, adsorbate) system in one round; its family is the system."""
    surface, r = task.params["surface"], task.params.get("round", 0)
    family = f"{surface}+{adsorbate}"
    key = family if r == 0 else f"{family}#{r}"
    params = {"surface": surface, "adsorbate": adsorbate, "round": r}
    return Task("surf", key, family, params, task.seed)


def equilibrium_lattice(surface: str, log: list) -> float:
    """Lattice constant (Å) of the bulk at GFN1 in the slab's in-plane supercell."""
    _, _, a0 = SURFACES[surface]
    cell, _ = _bulk_and_slab(surface, a0)
    relaxed, _ = relax(cell, METHOD, True, fmax=0.01, steps=10, cell="hydro", log=log)
    return float(a0 * (relaxed.get_volume() / cell.get_volume()) ** (1.0 / 3.0))


def run(task: Task, log: list) -> dict[str, list[Configuration]]:
    """Relax the bulk lattice, then for each adsorbate relax the slab and sample it (one
    family per adsorbate system)."""
    a = equilibrium_lattice(task.params["surface"], log)
    frames: dict[str, list[Configuration]] = {}
    for adsorbate in task.params["adsorbates"]:
        sub = system_task(task, adsorbate)
        frames.setdefault(sub.family, []).extend(_run_system(sub, a, log))
    return frames


def _run_system(task: Task, a: float, log: list) -> list[Configuration]:
    slab = initial_structure(task, a)
    relaxed, relax_frames = relax(slab, METHOD, False, fmax=0.1, steps=6, cell="none", log=log)
    frames: list[Configuration] = relax_frames[::2]
    rng = task.rng("perturb")
    free = np.ones(len(relaxed), bool)
    free[relaxed.constraints[0].index] = False
    rattled = [rattle(relaxed, rng, rng.uniform(0.04, 0.12), free) for _ in range(N_RATTLE)]
    frames += label_all(rattled, METHOD, "rattle", False, log)
    temperature = float(rng.uniform(300.0, 800.0))
    timestep = 1.0 if 1 in relaxed.numbers else 2.0
    frames += langevin_md(relaxed, METHOD, False, rng, temperature, timestep, MD_STEPS, 1, log)
    return frames
