"""Compact storage of labelled frames: one compressed ``.npz`` of concatenated arrays per split.

Arrays (``n`` frames, ``N`` atoms in total):

- ``offsets`` (n+1, int64): frame ``i`` owns atoms ``offsets[i]:offsets[i+1]``;
- ``numbers`` (N, uint8), ``positions`` (N×3, float64, Å), ``forces`` (N×3, float64, eV/Å);
- ``energy`` (n, float64, eV), ``cell`` (n×3×3, float64, Å), ``pbc`` (n×3, bool);
- ``stress`` (n×6, float64, eV/Å³, Voigt xx yy zz yz xz xy, ASE sign), only where labelled;
- ``family`` and ``config_type`` (n, unicode); ``family_index`` (n, int64): the frame's
  position within its family in the order of generation (see `_splits`).

Domain-bridging sets (``bridge``) store one label set per level instead of ``energy``,
``forces`` and ``stress``: ``<level>_energy`` (n), ``<level>_forces`` (N×3) and
``<level>_stress`` (n×6, zeros where ``has_stress`` is false), plus ``source`` and
``source_index`` (the structure's split and index in its source dataset); see
`mmh_data.datasets._bridge`.

No object arrays, so files load with ``allow_pickle=False``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._configuration import Configuration
from .._fields import matrix_to_voigt


def frames_to_arrays(frames: list[Configuration], families: list[str]) -> dict[str, np.ndarray]:
    """Concatenate labelled frames into the storage arrays."""
    counts = np.array([f.num_atoms for f in frames], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    arrays = {
        "offsets": offsets,
        "numbers": np.concatenate([f.atomic_numbers for f in frames]).astype(np.uint8),
        "positions": np.concatenate([f.positions for f in frames]).astype(np.float64),
        "forces": np.concatenate([f.forces for f in frames]).astype(np.float64),
        "energy": np.array([f.energy for f in frames], dtype=np.float64),
        "cell": np.stack([f.cell for f in frames]).astype(np.float64),
        "pbc": np.stack([f.pbc for f in frames]).astype(bool),
        "family": np.array(families, dtype=str),
        "config_type": np.array([f.config_type for f in frames], dtype=str),
    }
    if frames and frames[0].stress is not None:
        arrays["stress"] = np.stack([matrix_to_voigt(f.stress) for f in frames])
    return arrays


def select(arrays: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """Frames ``index`` of a set of storage arrays (in the given order)."""
    offsets = arrays["offsets"]
    atom_index = (
        np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in index])
        if len(index)
        else np.zeros(0, dtype=np.int64)
    )
    counts = offsets[1:][index] - offsets[:-1][index]
    out = {"offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)}
    for key, value in arrays.items():
        if key == "offsets":
            continue
        out[key] = value[atom_index] if is_per_atom(key) else value[index]
    return out


#: Per-atom arrays (one row per atom); every other array has one row per frame.
ATOM_KEYS = ("numbers", "positions", "forces")


def is_per_atom(key: str) -> bool:
    """Whether storage array ``key`` has one row per atom (``<level>_forces`` too)."""
    return key in ATOM_KEYS or key.endswith("_forces")


def concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join several sets of storage arrays."""
    out = {}
    sizes = [len(p["offsets"]) - 1 for p in parts]
    atoms = np.concatenate([[0], np.cumsum([p["offsets"][-1] for p in parts])])
    out["offsets"] = np.concatenate(
        [[0]] + [p["offsets"][1:] + atoms[i] for i, p in enumerate(parts)]
    ).astype(np.int64)
    for key in parts[0]:
        if key != "offsets":
            out[key] = np.concatenate([p[key] for p in parts])
    assert len(out["offsets"]) - 1 == sum(sizes)
    return out


def save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to a compressed ``.npz`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)


def load(path: Path) -> dict[str, np.ndarray]:
    """Read storage arrays from an ``.npz`` file (no pickle)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def to_atoms(arrays: dict[str, np.ndarray]) -> list:
    """Convert storage arrays to ``ase.Atoms`` with ``REF_*`` labels in ``info``/``arrays``
    (and ``GFN1_energy``/``GFN1_forces`` where a second level is stored, and
    ``REF_interaction_energy`` on dimer frames)."""
    from ase import Atoms

    offsets = arrays["offsets"]
    numbers, positions, forces = arrays["numbers"], arrays["positions"], arrays["forces"]
    stress = arrays.get("stress")
    extra = [k[len("has_") :] for k in arrays if k.startswith("has_") and k != "has_stress"]
    out = []
    for i in range(len(arrays["energy"])):
        lo, hi = offsets[i], offsets[i + 1]
        atoms = Atoms(
            numbers=numbers[lo:hi].astype(int),
            positions=positions[lo:hi],
            cell=arrays["cell"][i],
            pbc=arrays["pbc"][i],
        )
        atoms.info["REF_energy"] = float(arrays["energy"][i])
        if stress is not None:
            atoms.info["REF_stress"] = stress[i].copy()
        atoms.info["config_type"] = str(arrays["config_type"][i])
        atoms.info["family"] = str(arrays["family"][i])
        atoms.arrays["REF_forces"] = forces[lo:hi].copy()
        if "interaction_energy" in arrays and np.isfinite(arrays["interaction_energy"][i]):
            # dimer frames (see `_relative`)
            atoms.info["REF_interaction_energy"] = float(arrays["interaction_energy"][i])
        for level in extra:  # a second level on the same geometries (see `_relabel`)
            if arrays[f"has_{level}"][i]:
                atoms.info[f"{level.upper()}_energy"] = float(arrays[f"{level}_energy"][i])
                atoms.arrays[f"{level.upper()}_forces"] = arrays[f"{level}_forces"][lo:hi].copy()
        out.append(atoms)
    return out
