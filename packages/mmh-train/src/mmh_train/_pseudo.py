"""Pseudo-labels: structures labelled with a model head's own predictions.

In replay fine-tuning with ``finetune.replay.labels: pseudo`` the base head's replay
structures are labelled, before training, with what the input model's base head predicts
for them, so the replay loss anchors the base head to itself. The labels are computed once
and kept in the run directory, in ``pseudo-labels.npz`` (plain numpy arrays, read without
pickle), keyed by a hash of each structure; a resumed run reads them instead of computing
them again, so it trains on exactly the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmh_data import Configuration, GraphBuilder, collate
from mmh_heads import MultiHeadMACE

__all__ = [
    "PSEUDO_LABELS_NAME",
    "PseudoLabels",
    "predict_labels",
    "pseudo_label",
    "read_pseudo_labels",
    "structure_key",
    "write_pseudo_labels",
]

#: File name of the pseudo-labels inside a run directory.
PSEUDO_LABELS_NAME = "pseudo-labels.npz"

_FORMAT = "mmh-pseudo-labels"
_VERSION = 1

#: ``{structure key: (energy, forces, stress or None)}``
PseudoLabels = dict[str, tuple[float, np.ndarray, np.ndarray | None]]


def structure_key(config: Configuration) -> str:
    """A hash of what a model sees of a structure: atomic numbers, positions, cell, pbc."""
    h = hashlib.sha256()
    for array in (config.atomic_numbers, config.positions, config.cell, config.pbc):
        a = np.ascontiguousarray(array)
        h.update(str(a.dtype).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _has_stress(config: Configuration) -> bool:
    return bool(config.pbc.all()) and abs(float(np.linalg.det(config.cell))) > 0


def predict_labels(
    model: MultiHeadMACE,
    configs: Sequence[Configuration],
    head: str,
    *,
    batch_size: int = 20,
    device: torch.device | str | None = None,
) -> PseudoLabels:
    """Energy, forces and (for three-dimensionally periodic structures) stress predicted
    by one head, in eval mode and the model's dtype, batch by batch.

    Args:
        model: The model (its mode and device are restored afterwards).
        configs: The structures.
        head: The head that predicts.
        batch_size: Structures per forward pass.
        device: Where to compute (default: where the model is).

    Returns:
        Float64 labels keyed by `structure_key`.
    """
    k = model.head_index(head)
    home = model.e0.device
    device = torch.device(device) if device is not None else home
    builder = GraphBuilder(model.backbone.config.r_max, heads=None, dtype=model.dtype)
    was_training = model.training
    model.to(device).eval()
    out: PseudoLabels = {}
    try:
        for start in range(0, len(configs), batch_size):
            chunk = list(configs[start : start + batch_size])
            batch = collate([builder(c) for c in chunk]).to(device)
            batch.head = torch.full_like(batch.head, k)  # every structure through head k
            with torch.enable_grad():
                result = model(batch, compute_forces=True, compute_stress=True)
            energy = result["energy"].detach().double().cpu().numpy()
            forces = result["forces"].detach().double().cpu().numpy()
            stress = result["stress"].detach().double().cpu().numpy()
            offsets = np.cumsum([0] + [c.num_atoms for c in chunk])
            for j, c in enumerate(chunk):
                out[structure_key(c)] = (
                    float(energy[j]),
                    forces[offsets[j] : offsets[j + 1]].copy(),
                    stress[j].copy() if _has_stress(c) else None,
                )
    finally:
        model.to(home).train(was_training)
    return out


def write_pseudo_labels(path: str | Path, labels: PseudoLabels, meta: Mapping[str, Any]) -> Path:
    """Write labels and their provenance to an ``.npz`` file, atomically.

    The arrays: ``keys [n]`` (structure hashes), ``energy [n]``, ``num_atoms [n]``,
    ``forces [Σ atoms, 3]``, ``stress [n, 3, 3]`` (NaN where there is none),
    ``has_stress [n]`` and ``meta`` (a JSON string).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(labels)
    items = [labels[k] for k in keys]
    nan = np.full((3, 3), np.nan)
    arrays = {
        "meta": np.array(json.dumps({"format": _FORMAT, "version": _VERSION, **meta})),
        "keys": np.array(keys, dtype="U64"),
        "energy": np.array([e for e, _, _ in items], dtype=np.float64),
        "num_atoms": np.array([f.shape[0] for _, f, _ in items], dtype=np.int64),
        "forces": (np.concatenate([f for _, f, _ in items]) if items else np.zeros((0, 3))).astype(
            np.float64
        ),
        "stress": np.array([nan if s is None else s for _, _, s in items]).reshape(-1, 3, 3),
        "has_stress": np.array([s is not None for _, _, s in items], dtype=bool),
    }
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def read_pseudo_labels(path: str | Path) -> tuple[PseudoLabels, dict[str, Any]] | None:
    """The labels and provenance of a file of `write_pseudo_labels` (``None`` if there is
    no such file or it cannot be read)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].item())
            keys = [str(k) for k in data["keys"]]
            energy, counts = data["energy"], data["num_atoms"]
            forces, stress, has = data["forces"], data["stress"], data["has_stress"]
    except (OSError, ValueError, KeyError):
        return None
    if meta.get("format") != _FORMAT or meta.get("version") != _VERSION:
        return None
    offsets = np.cumsum(np.concatenate([[0], counts]))
    labels: PseudoLabels = {
        key: (
            float(energy[j]),
            forces[offsets[j] : offsets[j + 1]].copy(),
            stress[j].copy() if has[j] else None,
        )
        for j, key in enumerate(keys)
    }
    return labels, {k: v for k, v in meta.items() if k not in ("format", "version")}


def _apply(configs: Sequence[Configuration], labels: PseudoLabels) -> list[Configuration]:
    out = []
    for c in configs:
        energy, forces, stress = labels[structure_key(c)]
        out.append(
            c.replace(
                energy=energy,
                forces=forces,
                stress=stress,
                energy_weight=1.0,
                forces_weight=1.0,
                stress_weight=1.0 if stress is not None else 0.0,
            )
        )
    return out


def _distributed() -> tuple[bool, int]:
    on = torch.distributed.is_available() and torch.distributed.is_initialized()
    return on, (torch.distributed.get_rank() if on else 0)


def pseudo_label(
    model: MultiHeadMACE,
    splits: Mapping[str, Sequence[Configuration]],
    head: str,
    path: str | Path,
    meta: Mapping[str, Any],
    *,
    batch_size: int = 20,
    device: torch.device | str | None = None,
) -> tuple[dict[str, list[Configuration]], str]:
    """Label structures with ``head``'s predictions, read from ``path`` when it holds them.

    The file is reused when its provenance equals ``meta`` (e.g. the model's checksum,
    the head and the dtype) and it has every structure; otherwise the labels are
    computed and the file is (re)written. Under ``torchrun`` the first process does this
    and the others read the file it wrote, so every process trains on the same labels.

    Args:
        model: The model whose head labels (usually the input model of fine-tuning).
        splits: Structures by split name (``{"train": [...], "valid": [...]}``).
        head: The labelling head.
        path: The ``.npz`` file.
        meta: Provenance that the file must match to be reused (JSON data).
        batch_size: Structures per forward pass.
        device: Where to compute.

    Returns:
        The labelled structures per split (energy, forces, stress where periodic, each
        with property weight 1; other fields kept) and ``"computed"`` or ``"read"``.
    """
    meta = json.loads(json.dumps(dict(meta)))
    every = [c for configs in splits.values() for c in configs]
    wanted = {structure_key(c) for c in every}
    on, rank = _distributed()
    status = "read"
    if rank == 0:
        found = read_pseudo_labels(path)
        if found is None or found[1] != meta or not wanted <= set(found[0]):
            labels = predict_labels(model, every, head, batch_size=batch_size, device=device)
            write_pseudo_labels(path, labels, meta)
            status = "computed"
        else:
            labels = found[0]
    if on:
        torch.distributed.barrier()
        if rank != 0:
            found = read_pseudo_labels(path)
            if found is None or found[1] != meta or not wanted <= set(found[0]):
                raise RuntimeError(f"{path}: the pseudo-labels written by process 0 do not match")
            labels = found[0]
    return {name: _apply(configs, labels) for name, configs in splits.items()}, status
