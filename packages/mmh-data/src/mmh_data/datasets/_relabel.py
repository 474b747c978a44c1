"""A second level of theory on the geometries of a dataset: ``mol`` at GFN1-xTB.

The ``mol`` frames are labelled at GFN2-xTB; their GFN1-xTB energies and forces are stored
next to them, in the same split files, so that a model can train a head on the same
geometries at the base level (the same-level, one-head control of the cross-learning
experiments) and the two levels can be compared frame by frame. Frames carry
``info["GFN1_energy"]`` and ``arrays["GFN1_forces"]`` when their GFN1 SCF converged (the
arrays ``gfn1_energy``, ``gfn1_forces`` and ``has_gfn1`` of the split files); read them with
``keys: {energy: GFN1_energy, forces: GFN1_forces}``.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from . import _store
from ._label import TBLITE_SETTINGS, limit_threads

__all__ = ["LEVEL_METHODS", "extra_level_keys", "relabel"]

#: Level name -> tblite method.
LEVEL_METHODS = {"gfn1": "GFN1-xTB", "gfn2": "GFN2-xTB"}


def extra_level_keys(level: str) -> dict[str, str]:
    """The ``ase.Atoms`` keys of a stored second level (``GFN1_energy``, ``GFN1_forces``)."""
    return {"energy": f"{level.upper()}_energy", "forces": f"{level.upper()}_forces"}


def _label_chunk(args) -> tuple[list[float], list[np.ndarray], list[bool], float]:
    from ase import Atoms
    from ase.calculators.calculator import CalculationFailed

    from ._label import make_calculator

    method, frames = args
    limit_threads()
    start = time.process_time()
    energies, forces, ok = [], [], []
    for numbers, positions, cell, pbc in frames:
        atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc)
        atoms.calc = make_calculator(method)
        try:
            energies.append(float(atoms.get_potential_energy()))
            forces.append(np.array(atoms.get_forces(), dtype=np.float64))
            ok.append(True)
        except CalculationFailed:
            energies.append(0.0)
            forces.append(np.zeros((len(numbers), 3)))
            ok.append(False)
    return energies, forces, ok, time.process_time() - start


def relabel(
    name: str = "mol",
    level: str = "gfn1",
    *,
    workers: int = 2,
    data: Path | None = None,
    chunk: int = 64,
) -> dict:
    """Label every frame of dataset ``name`` at ``level`` and store the labels in its split
    files (arrays ``<level>_energy``, ``<level>_forces``, ``has_<level>``) and a summary
    under ``extra_levels`` in its metadata.

    Returns:
        The summary: method, keys, frames labelled, SCF failures, CPU and wall seconds.
    """
    from ._generate import DATA_DIR, _say, _versions

    method = LEVEL_METHODS[level]
    data = Path(data) if data is not None else DATA_DIR
    meta_path = data / name / "metadata.json"
    meta = json.loads(meta_path.read_text())
    wall, cpu, failures, labelled = time.time(), 0.0, 0, 0
    ctx = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=limit_threads) as pool:
        for split in meta["splits"]:
            arrays = _store.load(data / name / f"{split}.npz")
            off = arrays["offsets"]
            frames = [
                (
                    arrays["numbers"][off[i] : off[i + 1]].astype(int),
                    arrays["positions"][off[i] : off[i + 1]],
                    arrays["cell"][i],
                    arrays["pbc"][i],
                )
                for i in range(len(off) - 1)
            ]
            jobs = [(method, frames[k : k + chunk]) for k in range(0, len(frames), chunk)]
            energies, forces, ok = [], [], []
            for e, f, o, c in pool.map(_label_chunk, jobs):
                energies += e
                forces += f
                ok += o
                cpu += c
            arrays[f"{level}_energy"] = np.array(energies, dtype=np.float64)
            arrays[f"{level}_forces"] = (
                np.concatenate(forces) if forces else np.zeros((0, 3))
            ).astype(np.float64)
            arrays[f"has_{level}"] = np.array(ok, dtype=bool)
            _store.save(data / name / f"{split}.npz", arrays)
            failures += int(len(ok) - sum(ok))
            labelled += int(sum(ok))
            _say(f"{name}/{split}: {sum(ok)} of {len(ok)} frames labelled at {method}")
    summary = {
        "method": method,
        "keys": extra_level_keys(level),
        "frames": labelled,
        "scf_failures": failures,
        "settings": {k: v for k, v in TBLITE_SETTINGS.items() if k != "verbosity"},
        "versions": _versions(),
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": f"mmh-data datasets relabel {name} --level {level} --workers {workers}",
        "wall_s": time.time() - wall,
        "cpu_s": cpu,
    }
    meta.setdefault("extra_levels", {})[level] = summary
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return summary
