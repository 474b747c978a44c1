"""Small configurations and data files for the mmh-train tests."""

from __future__ import annotations

from pathlib import Path

import ase.io
import yaml
from mmh_data import datasets

#: A model small enough for a step in a few milliseconds.
TINY_MODEL = {
    "channels": 4,
    "max_L": 1,
    "max_ell": 1,
    "correlation": 2,
    "num_bessel": 4,
    "radial_mlp": [8],
    "r_max": 4.0,
    "readout_hidden": 4,
}


def write_frames(path: Path, dataset: str, split: str, count: int, **info) -> Path:
    """Write the first ``count`` frames of a bundled split to an extxyz file."""
    frames = datasets.load_atoms(dataset, split)[:count]
    for atoms in frames:
        atoms.info.update(info)
    ase.io.write(path, frames, format="extxyz")
    return path


def pretrain_config(tmp: Path, **changes) -> dict:
    """A tiny float64 pre-training configuration on 20 bulk crystals (plain data)."""
    cfg = {
        "output": str(tmp / "run"),
        "seed": 3,
        "dtype": "float64",
        "device": "cpu",
        "model": dict(TINY_MODEL),
        "heads": {"bulk": {"dataset": "bulk", "max_train": 20}},
        "optimizer": {"lr": 0.01, "ema_decay": 0.9},
        "training": {
            "epochs": 2,
            "batch_size": 4,
            "valid_batch_size": 40,
            "checkpoint_every": 2,
            "num_threads": 1,
        },
        "logging": {"progress": False, "tensorboard": False, "plots": False, "log_every": 1},
    }
    for key, value in changes.items():
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    """Write a configuration as YAML."""
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
