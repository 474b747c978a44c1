"""Tiny models and structures shared by the tests of mmh-heads."""

import numpy as np
import torch
from mmh_data import Configuration, build_graph, collate
from mmh_heads import ModelConfig, MultiHeadMACE
from mmh_layers import BackboneConfig

R_MAX = 3.0
HEADS = ("base", "new")


def make_model(dtype=torch.float64, zbl=True, seed=0) -> MultiHeadMACE:
    torch.manual_seed(seed)
    cfg = ModelConfig(
        BackboneConfig(
            elements=(1, 6, 8),
            channels=6,
            max_L=1,
            max_ell=2,
            correlation=2,
            r_max=R_MAX,
            num_bessel=4,
            radial_mlp=(8,),
        ),
        heads=HEADS,
        readout_hidden=(16, 8),
        e0s={"base": {1: -13.6, 6: -1029.0, 8: -2041.0}},
        scale={"base": 1.3, "new": 0.7},
        shift={"new": 0.1},
        zbl=zbl,
    )
    return MultiHeadMACE(cfg, dtype=dtype)


def triclinic(seed=0) -> Configuration:
    rng = np.random.default_rng(seed)
    cell = np.array([[3.2, 0.0, 0.0], [0.6, 3.0, 0.0], [0.4, 0.5, 3.4]])
    frac = rng.random((4, 3))
    return Configuration(
        atomic_numbers=[6, 8, 1, 1], positions=frac @ cell, cell=cell, pbc=[True, True, True]
    )


def molecule(seed=0, z=(6, 8, 1, 1, 1)) -> Configuration:
    rng = np.random.default_rng(seed)
    pos = rng.normal(size=(len(z), 3)) * 1.0
    return Configuration(atomic_numbers=list(z), positions=pos)


def batch_of(configs, heads, dtype=torch.float64):
    graphs = [build_graph(c, cutoff=R_MAX, heads=["Default"], dtype=dtype) for c in configs]
    batch = collate(graphs)
    batch.head = torch.tensor(heads, dtype=torch.long)
    return batch
