"""Per-structure predictions of a model head, written as extended XYZ.

Every frame keeps its structure and its reference labels (``REF_energy``, ``REF_forces``,
``REF_stress``, where the input had them) and gets the head's predictions under
``MMH_<head>_energy`` (eV), ``MMH_<head>_forces`` (eV/Å) and, for three-dimensionally
periodic frames, ``MMH_<head>_stress`` (eV/Å³, Voigt order ``xx yy zz yz xz xy``, ASE
sign), the keys parity plots and active-learning loops read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from mmh_data import LABEL_NAMES, AtomicGraph, Configuration, collate
from mmh_heads import MultiHeadMACE

__all__ = ["predict_structures", "prediction_keys", "write_predictions"]

_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def prediction_keys(head: str) -> dict[str, str]:
    """``{"energy": "MMH_<head>_energy", "forces": ..., "stress": ...}``."""
    return {p: f"MMH_{head}_{p}" for p in LABEL_NAMES}


def _voigt(matrix: np.ndarray) -> np.ndarray:
    return np.array([matrix[i, j] for i, j in _VOIGT])


def predict_structures(
    model: MultiHeadMACE, graphs: Sequence[AtomicGraph], *, batch_size: int = 20
) -> list[dict[str, np.ndarray | float]]:
    """Energy, forces and stress of each graph (float64 numpy, eV, eV/Å, eV/Å³ 3x3).

    The stress is computed for every graph; it is zero for graphs without a cell volume.
    """
    device, dtype = model.e0.device, model.dtype
    out: list[dict[str, np.ndarray | float]] = []
    for start in range(0, len(graphs), batch_size):
        batch = collate(list(graphs[start : start + batch_size]), dtype=dtype).to(device)
        with torch.enable_grad():
            result = model(batch, compute_forces=True, compute_stress=True)
        energy = result["energy"].detach().to("cpu", torch.float64).numpy()
        forces = result["forces"].detach().to("cpu", torch.float64).numpy()
        stress = result["stress"].detach().to("cpu", torch.float64).numpy()
        owner = batch.batch.cpu().numpy()
        for g in range(len(energy)):
            out.append(
                {"energy": float(energy[g]), "forces": forces[owner == g], "stress": stress[g]}
            )
    return out


def write_predictions(
    path: str | Path,
    configs: Sequence[Configuration],
    predictions: Sequence[dict],
    head: str,
) -> Path:
    """Write structures with their reference labels and a head's predictions.

    Args:
        path: The extended-XYZ file to write.
        configs: The structures, as read.
        predictions: One dict per structure ([`predict_structures`][mmh_train.predict_structures]).
        head: The head's name (in the keys).

    Returns:
        The path written.
    """
    import ase.io

    if len(configs) != len(predictions):
        raise ValueError(f"{len(configs)} structures but {len(predictions)} predictions")
    keys = prediction_keys(head)
    frames = []
    for config, pred in zip(configs, predictions, strict=True):
        atoms = Atoms(
            numbers=config.atomic_numbers,
            positions=config.positions,
            cell=config.cell,
            pbc=config.pbc,
        )
        if config.energy is not None and config.energy_weight != 0:
            atoms.info["REF_energy"] = float(config.energy)
        if config.forces is not None and config.forces_weight != 0:
            atoms.arrays["REF_forces"] = np.asarray(config.forces, dtype=np.float64)
        if config.stress is not None and config.stress_weight != 0:
            atoms.info["REF_stress"] = _voigt(np.asarray(config.stress))
        atoms.info["config_type"] = config.config_type
        atoms.info["head"] = head
        if config.source_file is not None:
            atoms.info["source_file"] = str(config.source_file)
        if config.source_index is not None:
            atoms.info["source_frame"] = int(config.source_index)
        atoms.info[keys["energy"]] = float(pred["energy"])
        atoms.arrays[keys["forces"]] = np.asarray(pred["forces"], dtype=np.float64)
        if atoms.cell.rank == 3 and bool(np.all(atoms.pbc)):
            atoms.info[keys["stress"]] = _voigt(np.asarray(pred["stress"]))
        frames.append(atoms)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ase.io.write(path, frames, format="extxyz")
    return path
