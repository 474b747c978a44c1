"""The ``bridge`` domain-bridging set: resumable generation, assembly and loading.

Format (one frame per structure, one label set per level of theory)::

    info["gfn1_energy"], arrays["gfn1_forces"], info["gfn1_stress"]   # GFN1-xTB
    info["gfn2_energy"], arrays["gfn2_forces"], info["gfn2_stress"]   # GFN2-xTB
    info["source"], info["source_index"]   # e.g. "bulk", 17: frame 17 of bulk's train split
    info["family"], info["config_type"]    # "bulk:Al-fcc", "md"

Stress (Voigt xx yy zz yz xz xy, eV/Å³, ASE sign) is present for structures from ``bulk``
only (3-D periodic cells). The storage arrays are those of `_store` with per-level
label arrays; there is one split, ``train``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .._fields import LABEL_NAMES
from . import _store
from ._builders_bridge import LEVELS, SOURCES, WITH_STRESS, run, tasks
from ._label import limit_threads

NAME = "bridge"
_PER_TASK = ("summary", "native_deviation")


def label_keys(level: str) -> dict[str, str]:
    """The frame keys of one level: ``{"energy": "<level>_energy", ...}``."""
    return {p: f"{level}_{p}" for p in LABEL_NAMES}


def to_atoms(arrays: dict[str, np.ndarray]) -> list:
    """Storage arrays of a bridging set to ``ase.Atoms`` with per-level label keys."""
    from ase import Atoms

    offsets = arrays["offsets"]
    levels = sorted(k[: -len("_energy")] for k in arrays if k.endswith("_energy"))
    out = []
    for i in range(len(offsets) - 1):
        lo, hi = offsets[i], offsets[i + 1]
        atoms = Atoms(
            numbers=arrays["numbers"][lo:hi].astype(int),
            positions=arrays["positions"][lo:hi],
            cell=arrays["cell"][i],
            pbc=arrays["pbc"][i],
        )
        for level in levels:
            keys = label_keys(level)
            atoms.info[keys["energy"]] = float(arrays[keys["energy"]][i])
            atoms.arrays[keys["forces"]] = arrays[keys["forces"]][lo:hi].copy()
            if arrays["has_stress"][i]:
                atoms.info[keys["stress"]] = arrays[keys["stress"]][i].copy()
        for key in ("config_type", "family", "source"):
            atoms.info[key] = str(arrays[key][i])
        atoms.info["source_index"] = int(arrays["source_index"][i])
        out.append(atoms)
    return out


def _run_task(task, work: Path) -> dict:
    from ._generate import _chunk_path

    limit_threads()
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    log: list[str] = []
    arrays = run(task, log)
    frames = len(arrays.get("gfn1_energy", ()))
    summary = {
        "key": task.key,
        "frames": frames,
        "requested": len(task.params["indices"]),
        "reserve": len(task.params["reserve"]),
        "wall_s": time.perf_counter() - t_wall,
        "cpu_s": time.process_time() - t_cpu,
        "log": log,
    }
    arrays["summary"] = np.array(json.dumps(summary))
    _store.save(_chunk_path(work, task), arrays)
    return summary


def generate(work: Path, workers: int = 2, seed: int = 0, out: Path | None = None) -> dict:
    """Generate ``bridge``: label the missing tasks, then assemble ``train.npz``.

    Resumable: every finished task is a chunk file under ``work/bridge/chunks``. Needs the
    source datasets (``mol``, ``surf``, ``bulk``) in this installation.
    """
    from ._generate import DATA_DIR, run_pending

    limit_threads()
    work, out = Path(work), Path(out) if out is not None else DATA_DIR
    all_tasks = tasks(seed)
    runs = run_pending(
        NAME,
        all_tasks,
        _run_task,
        work,
        workers,
        seed,
        frames_of=lambda s: f"{s['frames']}/{s['requested']}",
    )
    return assemble(work, seed, out, all_tasks, runs)


def level_difference(arrays: dict[str, np.ndarray]) -> dict:
    """GFN2 − GFN1 energies of the set after a per-element least-squares E0 fit, over all
    structures and within each source (a fit of its own per source)."""
    from ._levels import aligned_difference

    off = arrays["offsets"]
    numbers = [arrays["numbers"][off[i] : off[i + 1]].astype(int) for i in range(len(off) - 1)]
    delta = arrays["gfn2_energy"] - arrays["gfn1_energy"]
    result = aligned_difference(delta, numbers)
    result.pop("natoms")
    result.pop("residual")
    by_source = {}
    for source in SOURCES:
        mask = np.flatnonzero(arrays["source"] == source)
        if len(mask):
            fit = aligned_difference(delta[mask], [numbers[i] for i in mask])
            by_source[source] = fit["std_ev_per_atom"]
    result["std_ev_per_atom_by_source"] = by_source
    return result


def assemble(work: Path, seed: int, out: Path, all_tasks, runs) -> dict:
    """Join the chunk files into ``train.npz`` and write ``metadata.json``."""
    from ase.data import chemical_symbols

    from . import metadata as source_metadata
    from ._generate import _chunk_path, _say, isolated_atom_energies, provenance

    parts, summaries, deviation = [], [], np.zeros(3)
    for task in all_tasks:
        chunk = _store.load(_chunk_path(work, task))
        summaries.append(json.loads(str(chunk.pop("summary"))))
        deviation = np.maximum(deviation, chunk.pop("native_deviation"))
        if chunk:
            parts.append(chunk)
    arrays = _store.concatenate(parts)
    levels = {}
    for level, method in LEVELS.items():
        e0, mult = isolated_atom_energies(arrays["numbers"], method)
        levels[level] = {
            "method": method,
            "keys": label_keys(level),
            "isolated_atom_energies": {str(z): e for z, e in e0.items()},
            "isolated_atom_multiplicity": {str(z): m for z, m in mult.items()},
        }
    zs, counts = np.unique(arrays["numbers"], return_counts=True)
    types, type_counts = np.unique(arrays["config_type"], return_counts=True)
    sources, source_counts = np.unique(arrays["source"], return_counts=True)
    meta = {
        "name": NAME,
        "kind": "bridging",
        "units": {"energy": "eV", "forces": "eV/Å", "stress": "eV/Å^3 (Voigt xx yy zz yz xz xy)"},
        "levels": levels,
        "provenance": {
            "methods": list(LEVELS.values()),
            **provenance(NAME, seed, runs, summaries),
            "sources": {
                s: {
                    "split": "train",
                    "requested": n,
                    "source_generated": source_metadata(s)["provenance"]["generated"],
                }
                for s, n in SOURCES.items()
            },
            "native_label_max_deviation": dict(
                zip(("energy", "forces", "stress"), map(float, deviation), strict=True)
            ),
        },
        "has_stress": True,
        "stress_sources": list(WITH_STRESS),
        "splits": {
            "train": {
                "frames": len(arrays["source"]),
                "atoms": int(arrays["offsets"][-1]),
                "families": sorted(set(arrays["family"].tolist())),
                "element_counts": {
                    chemical_symbols[z]: int(c) for z, c in zip(zs, counts, strict=True)
                },
                "config_types": {str(t): int(c) for t, c in zip(types, type_counts, strict=True)},
                "sources": {str(s): int(c) for s, c in zip(sources, source_counts, strict=True)},
            }
        },
        "analysis": {"gfn2_minus_gfn1": level_difference(arrays)},
    }
    _store.save(out / NAME / "train.npz", arrays)
    (out / NAME / "metadata.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    _say(f"{NAME}: wrote {len(arrays['source'])} frames to {out / NAME}")
    return meta
