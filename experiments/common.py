"""Helpers shared by the experiment scripts: head-by-head evaluation on the bundled splits.

The scripts in ``experiments/`` compose the packages; nothing in ``packages/`` imports them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import torch
from mmh_data import GraphBuilder, configurations_from_atoms
from mmh_data import datasets as bundled
from mmh_heads import load_model
from mmh_train import LossWeights, evaluate_heads

#: Every bundled test split, by dataset name.
TEST_SETS = ("bulk", "surf", "mol", "mol-base")


def bundled_frames(dataset: str, split: str, max_frames: int | None = None) -> list:
    """Frames of a bundled split; at most ``max_frames``, evenly spaced (deterministic)."""
    atoms = bundled.load_atoms(dataset, split)
    if max_frames is not None and len(atoms) > max_frames:
        atoms = atoms[:: math.ceil(len(atoms) / max_frames)]
    return atoms


def evaluate_model(
    model_file: Path,
    evaluations: Iterable[tuple[str, str, str]],
    *,
    max_frames: int | None = None,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 40,
) -> dict[str, dict[str, float]]:
    """Errors of ``(head, dataset, split)`` evaluations of one model file.

    Returns ``{"<head> on <dataset> <split>": metrics}`` with the metrics of
    :func:`mmh_train.evaluate_heads` (energy per atom, forces, stress; MAE and RMSE in milli-eV
    units: meV/atom, meV/Å, meV/Å³). Evaluations of heads the model does not have are
    skipped.
    """
    model = load_model(model_file).to(dtype)
    builder = GraphBuilder(model.backbone.config.r_max, heads=model.heads, dtype=dtype)
    out = {}
    for head, dataset, split in evaluations:
        if head not in model.heads:
            continue
        frames = bundled_frames(dataset, split, max_frames)
        configs = configurations_from_atoms(frames, head=head, heads=model.heads)
        graphs = {head: [builder(c) for c in configs]}
        result = evaluate_heads(model, graphs, loss_weights=LossWeights(), batch_size=batch_size)
        out[f"{head} on {dataset} {split}"] = result[head] | {"frames": len(configs)}
    return out
