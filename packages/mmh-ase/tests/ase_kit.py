"""Tiny models and structures shared by the tests of mmh-ase."""

import functools

import numpy as np
import torch
from ase import Atoms
from mmh_heads import ModelConfig, MultiHeadMACE
from mmh_layers import BackboneConfig

R_MAX = 3.0
HEADS = ("base", "new")
E0S = {"base": {1: -13.6, 6: -1029.0, 8: -2041.0, 13: -52.0}}


def make_model(dtype=torch.float64, heads=HEADS, seed=0) -> MultiHeadMACE:
    """A small random two-head model (elements H, C, O, Al) with E0s, scale, shift, ZBL."""
    torch.manual_seed(seed)
    cfg = ModelConfig(
        BackboneConfig(
            elements=(1, 6, 8, 13),
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
    """One :func:`make_model` per dtype for the whole session (building one takes ~1 s);
    tests must not modify it."""
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
    """A small periodic triclinic cell with four atoms (images inside the cutoff)."""
    rng = np.random.default_rng(seed)
    cell = np.array([[3.2, 0.0, 0.0], [0.6, 3.0, 0.0], [0.4, 0.5, 3.4]])
    frac = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
    frac = frac + rng.normal(scale=0.03, size=frac.shape)
    return Atoms(numbers=[13, 8, 6, 1], scaled_positions=frac, cell=cell, pbc=True)
