"""A tiny pre-trained-looking model for fine-tuning tests."""

from __future__ import annotations

import torch
from mmh_data import datasets
from mmh_heads import ModelConfig, MultiHeadMACE
from mmh_layers import BackboneConfig
from train_kit import TINY_MODEL

#: Elements of all bundled datasets.
ALL_ELEMENTS = (1, 3, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 22, 28, 29, 30, 31, 32, 33, 46, 47, 78)


def tiny_model(elements=ALL_ELEMENTS, head="bulk", seed=0) -> MultiHeadMACE:
    """A float64 single-head model with the bundled bulk isolated-atom E0s."""
    torch.manual_seed(seed)
    iso = datasets.isolated_atom_energies("bulk")
    m = {k: v for k, v in TINY_MODEL.items() if k != "readout_hidden"}
    m["radial_mlp"] = tuple(m["radial_mlp"])
    config = ModelConfig(
        BackboneConfig(elements=tuple(elements), avg_num_neighbors=20.0, **m),
        heads=(head,),
        readout_hidden=TINY_MODEL["readout_hidden"],
        e0s={head: {z: iso.get(z, 0.0) for z in elements}},
        scale={head: 0.7},
        shift={head: -4.8},
    )
    return MultiHeadMACE(config, dtype=torch.float64)
