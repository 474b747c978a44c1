"""Small real mmh models and test structures shared by the tests of mmh-md."""

import functools

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk
from mmh_heads import ModelConfig, MultiHeadMACE
from mmh_layers import BackboneConfig

R_MAX = 3.5
HEADS = ("base", "new")
ELEMENTS = (1, 6, 8, 11, 13, 14, 17, 26)
E0S = {
    "base": {
        1: -13.6,
        6: -1029.0,
        8: -2041.0,
        11: -4400.0,
        13: -52.0,
        14: -100.0,
        17: -12500.0,
        26: -3400.0,
    }
}


def make_model(dtype=torch.float64, heads=HEADS, seed=0) -> MultiHeadMACE:
    """A small random two-layer, two-head model with E0s, scale, shift and ZBL."""
    torch.manual_seed(seed)
    cfg = ModelConfig(
        BackboneConfig(
            elements=ELEMENTS,
            channels=6,
            max_L=1,
            max_ell=2,
            correlation=2,
            r_max=R_MAX,
            num_bessel=4,
            radial_mlp=(8,),
        ),
        heads=heads,
        readout_hidden=16,
        e0s={h: t for h, t in E0S.items() if h in heads},
        scale={h: 1.3 for h in heads[:1]},
        shift={h: 0.1 for h in heads[1:]},
        zbl=True,
    )
    return MultiHeadMACE(cfg, dtype=dtype)


@functools.lru_cache
def shared_model(dtype=torch.float64) -> MultiHeadMACE:
    """One :func:`make_model` per dtype for the session; tests must not modify it."""
    return make_model(dtype=dtype)


def molecule(seed=0, numbers=(6, 8, 1, 1, 1)) -> Atoms:
    """A random non-periodic molecule, atoms at least 0.9 Å apart."""
    rng = np.random.default_rng(seed)
    pos = [np.zeros(3)]
    while len(pos) < len(numbers):
        trial = pos[rng.integers(len(pos))] + rng.normal(size=3) * 1.1
        if min(np.linalg.norm(trial - p) for p in pos) > 0.9:
            pos.append(trial)
    return Atoms(numbers=list(numbers), positions=np.array(pos))


def triclinic(seed=0) -> Atoms:
    """A small periodic triclinic cell of four atoms (images inside the cutoff)."""
    rng = np.random.default_rng(seed)
    cell = np.array([[3.2, 0.0, 0.0], [0.6, 3.0, 0.0], [0.4, 0.5, 3.4]])
    frac = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
    frac = frac + rng.normal(scale=0.03, size=frac.shape)
    return Atoms(numbers=[13, 8, 6, 1], scaled_positions=frac, cell=cell, pbc=True)


def rattled(name: str, seed: int = 0, repeat=(1, 1, 1), amplitude=0.05, cubic=False) -> Atoms:
    """A rattled crystal: ``"nacl"``, ``"al"``, ``"si"`` or ``"fe"``."""
    atoms = {
        "nacl": lambda: bulk("NaCl", "rocksalt", a=5.64, cubic=cubic),
        "al": lambda: bulk("Al", "fcc", a=4.05, cubic=True),
        "si": lambda: bulk("Si", "diamond", a=5.43),
        "fe": lambda: bulk("Fe", "bcc", a=2.87, cubic=True),
    }[name]() * repeat
    atoms.rattle(amplitude, seed=seed)
    return atoms


def in_box(atoms: Atoms, size: float = 12.0) -> Atoms:
    """A molecule centred in a periodic vacuum box, images beyond the cutoff."""
    atoms = atoms.copy()
    atoms.cell = [size, size, size]
    atoms.pbc = True
    atoms.center()
    return atoms


def mixed_batch(periodic_molecules: bool = False) -> list[Atoms]:
    """Eight different systems, molecules and periodic cells, 4 to 32 atoms.

    With ``periodic_molecules`` the molecules sit in periodic vacuum boxes (for engines
    whose states have one periodicity for all systems)."""
    mols = [
        molecule(0),
        molecule(1, numbers=(8, 1, 1)),
        molecule(2, numbers=(6, 6, 1, 1, 1, 1, 8, 1)),
    ]
    if periodic_molecules:
        mols = [in_box(m) for m in mols]
    else:
        mols[2].cell = [10.0, 11.0, 12.0]  # a cell without periodicity
    return [
        mols[0],
        triclinic(0),
        rattled("nacl", 1, (2, 2, 2)),
        mols[1],
        rattled("al", 2),
        rattled("si", 3, (2, 1, 1)),
        mols[2],
        triclinic(4),
    ]
