"""The committed mace-torch fixtures (``data/mace``) and their stored calculator outputs."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from mmh_data import Configuration, build_graph, collate

DATA = Path(__file__).parent / "data" / "mace"

#: every model fixture, by name
MODELS = (
    "linear_mp0a",
    "nonresidual_mp0b",
    "density_omat",
    "nonlinear_mh1_L1",
    "nonlinear_mh1_L2",
    "nonlinear_mh1_L1_f32",
    "nonlinear_mh1_L1_cueq",
    "nonlinear_v0315",
)


def reference(name: str) -> dict:
    """The fixture's JSON: construction arguments, structures and mace's outputs."""
    return json.loads((DATA / f"{name}.json").read_text())


def model_file(name: str, folder: Path) -> Path:
    """The fixture's ``.model`` gunzipped into ``folder``."""
    out = folder / f"{name}.model"
    if not out.exists():
        with gzip.open(DATA / f"{name}.model.gz", "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return out


def configuration(structure: dict) -> Configuration:
    """A stored structure as an mmh configuration."""

    def parse(value):
        return json.loads(value) if isinstance(value, str) else value

    pbc = parse(structure["pbc"])
    cell = np.array(parse(structure["cell"]), dtype=np.float64) if any(pbc) else None
    return Configuration(
        atomic_numbers=parse(structure["numbers"]),
        positions=np.array(parse(structure["positions"]), dtype=np.float64),
        cell=cell,
        pbc=pbc,
    )


def evaluate(model, config: Configuration, head: str) -> dict[str, np.ndarray]:
    """Energy, forces, per-atom energies and (periodic) ASE-Voigt stress of ``head``."""
    graph = build_graph(
        config, cutoff=model.backbone.config.r_max, heads=["Default"], dtype=model.dtype
    )
    batch = collate([graph])
    batch.head = torch.tensor([model.heads.index(head)])
    periodic = bool(np.any(config.pbc))
    out = model(batch, compute_stress=periodic)
    result = {
        "energy": out["energy"].detach().double().numpy()[0],
        "forces": out["forces"].detach().double().numpy(),
        "energies": out["node_energy"].detach().double().numpy(),
    }
    if periodic:
        s = out["stress"].detach().double().numpy()[0]
        result["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
    return result


def stored(results: dict, key: str) -> np.ndarray:
    value = results[key]
    return np.array(json.loads(value) if isinstance(value, str) else value, dtype=np.float64)


def mace_volume_ratio(config: Configuration, r_max: float) -> float:
    """mace's stress volume over the cell's, for a partially periodic structure.

    mace-torch's neighbour list replaces each non-periodic cell vector by
    ``(max |position| + 1) * 5 * r_max`` along its axis and divides the virials by the volume
    of that cell, so its stress of a slab depends on this convention; mmh divides by the
    volume of the structure's own cell. The virials agree.
    """
    cell = np.array(config.cell, dtype=np.float64)
    length = (np.abs(config.positions).max() + 1) * 5 * r_max
    for axis in range(3):
        if not config.pbc[axis]:
            cell[axis] = 0.0
            cell[axis, axis] = length
    return float(np.linalg.det(cell) / np.linalg.det(config.cell))


def state_dict_file() -> Path:
    """The committed mace checkpoint (a state dict) of ``linear_mp0a``, gzipped or not."""
    for name in ("linear_mp0a_state_dict.pt.gz", "linear_mp0a_state_dict.pt"):
        if (DATA / name).exists():
            return DATA / name
    raise FileNotFoundError(DATA / "linear_mp0a_state_dict.pt")


def mace_python() -> Path | None:
    """A python with mace-torch for the slow export tests: ``$MMH_MACE_PYTHON`` or the
    repository's reference environment (``.benchmarks-env``), when it exists."""
    import os

    env = os.environ.get("MMH_MACE_PYTHON")
    if env:
        return Path(env)
    candidate = Path(__file__).resolve().parents[3] / ".benchmarks-env" / "bin" / "python"
    return candidate if candidate.exists() else None
