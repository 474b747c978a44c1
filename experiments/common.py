"""Helpers shared by the experiment scripts: head-by-head evaluation on the bundled splits.

The scripts in ``experiments/`` compose the packages; nothing in ``packages/`` imports them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from mmh_data import (
    ErrorAccumulator,
    GraphBuilder,
    baseline_metrics,
    centred_energy_mae,
    collate,
    configurations_from_atoms,
    skill_scores,
)
from mmh_data import datasets as bundled
from mmh_heads import load_model
from mmh_train import model_output

#: Every bundled dataset with test splits.
TEST_SETS = ("bulk", "surf", "mol", "mol-base")
#: The in-distribution test split (held-out frames of the training families) and the
#: out-of-distribution one (unseen families).
IN_DISTRIBUTION, OUT_OF_DISTRIBUTION = "test", "ood"


def bundled_frames(dataset: str, split: str, max_frames: int | None = None) -> list:
    """Frames of a bundled split; at most ``max_frames``, evenly spaced (deterministic)."""
    atoms = bundled.load_atoms(dataset, split)
    if max_frames is not None and len(atoms) > max_frames:
        atoms = atoms[:: math.ceil(len(atoms) / max_frames)]
    return atoms


def _training_configs(dataset: str, head: str, fallback: list) -> list:
    """The training structures the baselines are fitted on: the dataset's ``train`` split,
    or (a test-only dataset) the evaluated structures themselves."""
    if "train" not in bundled.metadata(dataset)["splits"]:
        return fallback
    frames = bundled.load_atoms(dataset, "train")
    return configurations_from_atoms(frames, head=head, heads=[head])


def evaluate_model(
    model_file: Path,
    evaluations: Iterable[tuple[str, str, str]],
    *,
    max_frames: int | None = None,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 40,
) -> dict[str, dict]:
    """Errors of ``(head, dataset, split)`` evaluations of one model file, with skill.

    Returns ``{"<head> on <dataset> <split>": metrics}``: MAE and RMSE of energy per atom,
    forces and stress (meV/atom, meV/Å, meV/Å³, as ``mmh_data.ErrorAccumulator``), the MAE
    of per-atom energies centred per structure family (``energy_centred_mae``), the same
    MAEs of the trivial baselines (``baseline_*``: zero force, a per-element linear energy
    fitted on the dataset's training split), the skills against them
    (``forces_skill``, ``energy_skill``, ``energy_centred_skill``), the frame count and
    ``per_family`` force and energy MAEs. Evaluations of heads the model does not have are
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
        families = [str(a.info["family"]) for a in frames]
        graphs = [builder(c) for c in configs]
        total = ErrorAccumulator()
        by_family: dict[str, ErrorAccumulator] = {}
        energies: list[float] = []
        for start in range(0, len(graphs), batch_size):
            batch = collate(graphs[start : start + batch_size])
            output = {k: v.detach() for k, v in model_output(model, batch, training=False).items()}
            total.update(batch, output)
            energies += output["energy"].double().tolist()
            pred_f = output["forces"].double().numpy()
            for k, c in enumerate(configs[start : start + batch_size]):
                lo, hi = int(batch.ptr[k]), int(batch.ptr[k + 1])
                by_family.setdefault(families[start + k], ErrorAccumulator()).add_structure(
                    c.num_atoms,
                    energy=(energies[start + k], c.energy),
                    forces=(pred_f[lo:hi], c.forces),
                )
        metrics = total.metrics()
        metrics["energy_centred_mae"] = centred_energy_mae(
            np.array(energies),
            np.array([c.energy for c in configs]),
            np.array([c.num_atoms for c in configs]),
            families,
        )
        base = baseline_metrics(configs, _training_configs(dataset, head, configs), families)
        metrics.update({f"baseline_{k}": v for k, v in base.items()})
        metrics.update(skill_scores(metrics, base))
        metrics["frames"] = len(configs)
        metrics["per_family"] = {
            fam: acc.metrics() | {"frames": int(acc.sums[0, 2])}
            for fam, acc in sorted(by_family.items())
        }
        out[f"{head} on {dataset} {split}"] = metrics
    return out
