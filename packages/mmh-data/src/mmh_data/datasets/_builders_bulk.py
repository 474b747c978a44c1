"""``bulk``: periodic crystals at GFN1-xTB, relaxed, then strained, rattled and MD-sampled."""

from __future__ import annotations

from .._configuration import Configuration
from ._sampling import label_all, langevin_md, random_strain, rattle, relax
from ._task import Task

METHOD = "GFN1-xTB"

#: (family, ase.build.bulk arguments, supercell repeat); 8–16 atoms per cell.
MATERIALS: list[tuple[str, dict, tuple[int, int, int]]] = [
    ("Cu-fcc", {"name": "Cu", "crystalstructure": "fcc", "a": 3.61, "cubic": True}, (2, 1, 1)),
    ("Al-fcc", {"name": "Al", "crystalstructure": "fcc", "a": 4.05, "cubic": True}, (2, 1, 1)),
    ("Ni-fcc", {"name": "Ni", "crystalstructure": "fcc", "a": 3.52, "cubic": True}, (2, 1, 1)),
    ("Pd-fcc", {"name": "Pd", "crystalstructure": "fcc", "a": 3.89, "cubic": True}, (2, 1, 1)),
    ("Pt-fcc", {"name": "Pt", "crystalstructure": "fcc", "a": 3.92, "cubic": True}, (2, 1, 1)),
    ("Ag-fcc", {"name": "Ag", "crystalstructure": "fcc", "a": 4.09, "cubic": True}, (2, 1, 1)),
    ("Li-bcc", {"name": "Li", "crystalstructure": "bcc", "a": 3.51, "cubic": True}, (2, 2, 2)),
    ("Na-bcc", {"name": "Na", "crystalstructure": "bcc", "a": 4.23, "cubic": True}, (2, 2, 1)),
    ("Mg-hcp", {"name": "Mg", "crystalstructure": "hcp", "a": 3.21, "c": 5.21}, (2, 2, 1)),
    ("Ti-hcp", {"name": "Ti", "crystalstructure": "hcp", "a": 2.95, "c": 4.68}, (2, 2, 1)),
    (
        "Si-diamond",
        {"name": "Si", "crystalstructure": "diamond", "a": 5.43, "cubic": True},
        (1, 1, 1),
    ),
    (
        "Ge-diamond",
        {"name": "Ge", "crystalstructure": "diamond", "a": 5.66, "cubic": True},
        (1, 1, 1),
    ),
    (
        "C-diamond",
        {"name": "C", "crystalstructure": "diamond", "a": 3.57, "cubic": True},
        (1, 1, 1),
    ),
    (
        "SiC-zb",
        {"name": "SiC", "crystalstructure": "zincblende", "a": 4.36, "cubic": True},
        (1, 1, 1),
    ),
    (
        "GaAs-zb",
        {"name": "GaAs", "crystalstructure": "zincblende", "a": 5.65, "cubic": True},
        (1, 1, 1),
    ),
    (
        "ZnS-zb",
        {"name": "ZnS", "crystalstructure": "zincblende", "a": 5.41, "cubic": True},
        (1, 1, 1),
    ),
    (
        "NaCl-rs",
        {"name": "NaCl", "crystalstructure": "rocksalt", "a": 5.64, "cubic": True},
        (1, 1, 1),
    ),
    (
        "LiF-rs",
        {"name": "LiF", "crystalstructure": "rocksalt", "a": 4.03, "cubic": True},
        (1, 1, 1),
    ),
    (
        "MgO-rs",
        {"name": "MgO", "crystalstructure": "rocksalt", "a": 4.21, "cubic": True},
        (1, 1, 1),
    ),
    (
        "LiH-rs",
        {"name": "LiH", "crystalstructure": "rocksalt", "a": 4.08, "cubic": True},
        (1, 1, 1),
    ),
    ("ZnO-wz", {"name": "ZnO", "crystalstructure": "wurtzite", "a": 3.25, "c": 5.21}, (2, 2, 1)),
    ("GaN-wz", {"name": "GaN", "crystalstructure": "wurtzite", "a": 3.19, "c": 5.19}, (2, 2, 1)),
    ("AlN-wz", {"name": "AlN", "crystalstructure": "wurtzite", "a": 3.11, "c": 4.98}, (2, 2, 1)),
    ("NiAl-B2", {"name": "NiAl", "crystalstructure": "cesiumchloride", "a": 2.88}, (2, 2, 2)),
    ("CuZn-B2", {"name": "CuZn", "crystalstructure": "cesiumchloride", "a": 2.95}, (2, 2, 2)),
]

#: Non-ase.build prototypes, built by `_prototype`.
PROTOTYPES = ["TiO2-rutile", "Cu2O-cuprite", "Cu3Pt-L12", "MgF2-rutile"]

N_STRAIN = 6
N_RATTLE = 6
MD_STEPS = 12
#: independent sampling rounds per crystal (the relaxation frames are kept once)
ROUNDS = 2


def _prototype(family: str):
    from ase.spacegroup import crystal

    if family == "TiO2-rutile":
        atoms = crystal(
            ["Ti", "O"],
            [(0, 0, 0), (0.305, 0.305, 0)],
            spacegroup=136,
            cellpar=[4.59, 4.59, 2.96, 90, 90, 90],
        )
        return atoms.repeat((1, 1, 2))
    if family == "MgF2-rutile":
        atoms = crystal(
            ["Mg", "F"],
            [(0, 0, 0), (0.303, 0.303, 0)],
            spacegroup=136,
            cellpar=[4.62, 4.62, 3.05, 90, 90, 90],
        )
        return atoms.repeat((1, 1, 2))
    if family == "Cu2O-cuprite":
        atoms = crystal(
            ["Cu", "O"],
            [(0, 0, 0), (0.25, 0.25, 0.25)],
            spacegroup=224,
            setting=2,
            cellpar=[4.27, 4.27, 4.27, 90, 90, 90],
        )
        return atoms.repeat((2, 1, 1))
    if family == "Cu3Pt-L12":
        atoms = crystal(
            ["Pt", "Cu"],
            [(0, 0, 0), (0, 0.5, 0.5)],
            spacegroup=221,
            cellpar=[3.70, 3.70, 3.70, 90, 90, 90],
        )
        return atoms.repeat((2, 1, 1))
    raise KeyError(family)


def initial_structure(task: Task):
    """The unrelaxed crystal of a task (built from tabulated data only)."""
    from ase.build import bulk

    family = task.family
    table = {name: (kw, rep) for name, kw, rep in MATERIALS}
    if family in table:
        kw, rep = table[family]
        atoms = bulk(**kw).repeat(rep)
    else:
        atoms = _prototype(family)
    atoms.set_initial_magnetic_moments(None)
    atoms.pbc = True
    return atoms


def tasks(seed: int) -> list[Task]:
    """All tasks of the ``bulk`` dataset: ``ROUNDS`` sampling rounds per crystal."""
    names = [m[0] for m in MATERIALS] + PROTOTYPES
    out = []
    for r in range(ROUNDS):
        for name in names:
            key = name if r == 0 else f"{name}#{r}"
            out.append(Task("bulk", key, name, {"round": r}, seed))
    return out


def perturbed_structures(relaxed, task: Task):
    """Strained and rattled copies of a relaxed crystal (depends on the seed only)."""
    rng = task.rng("perturb")
    out = []
    for _ in range(N_STRAIN):
        out.append(("strain", rattle(random_strain(relaxed, rng, 0.06, 0.03), rng, 0.01)))
    for _ in range(N_RATTLE):
        sigma = rng.uniform(0.03, 0.12)
        out.append(("rattle", rattle(random_strain(relaxed, rng, 0.02, 0.01), rng, sigma)))
    return out


def run(task: Task, log: list) -> dict[str, list[Configuration]]:
    """Relax the cell at GFN1, then sample strains, rattles and an MD trajectory."""
    atoms = initial_structure(task)
    relaxed, relax_frames = relax(atoms, METHOD, True, fmax=0.03, steps=10, cell="full", log=log)
    first_round = task.params.get("round", 0) == 0
    frames: list[Configuration] = relax_frames[::2] if first_round else []
    perturbed = perturbed_structures(relaxed, task)
    for kind in ("strain", "rattle"):
        frames += label_all([s for k, s in perturbed if k == kind], METHOD, kind, True, log)
    rng = task.rng("md")
    temperature = float(rng.uniform(400.0, 1200.0))
    start = random_strain(relaxed, rng, 0.02, 0.01)
    timestep = 1.0 if 1 in atoms.numbers else 2.0
    frames += langevin_md(start, METHOD, True, rng, temperature, timestep, MD_STEPS, 1, log)
    return {task.family: frames}
