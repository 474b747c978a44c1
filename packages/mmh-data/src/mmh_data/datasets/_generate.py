"""Resumable, parallel generation: tasks -> chunk files in a work dir -> shipped split files."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from . import _store
from ._label import TBLITE_SETTINGS, limit_threads
from ._splits import HOLDOUT, SPLITS, assign_splits, family_index, split_order

NAMES = ("bulk", "surf", "mol", "mol-base", "bridge")
METHODS = {"bulk": "GFN1-xTB", "surf": "GFN1-xTB", "mol": "GFN2-xTB", "mol-base": "GFN1-xTB"}
STRESS = {"bulk": True, "surf": False, "mol": False, "mol-base": False}
DATA_DIR = Path(__file__).parent / "data"

#: Unpaired electrons of the free atoms (ground-state term), used for isolated-atom energies.
UNPAIRED = {
    1: 1,
    3: 1,
    6: 2,
    7: 3,
    8: 2,
    9: 1,
    11: 1,
    12: 0,
    13: 1,
    14: 2,
    16: 2,
    17: 1,
    22: 2,
    28: 2,
    29: 1,
    30: 0,
    31: 1,
    32: 2,
    33: 3,
    46: 0,
    47: 1,
    78: 2,
}


def tasks(name: str, seed: int):
    """The generation tasks of dataset ``name`` (built from the seed alone)."""
    if name == "bulk":
        from ._builders_bulk import tasks as make
    elif name == "surf":
        from ._builders_surf import tasks as make
    elif name in ("mol", "mol-base"):
        from ._builders_mol import tasks as mol_tasks

        return mol_tasks(name, seed)
    elif name == "bridge":
        from ._builders_bridge import tasks as bridge_tasks

        return bridge_tasks(seed)
    else:
        raise KeyError(f"unknown dataset {name!r}; choose from {NAMES}")
    return make(seed)


def _runner(name: str):
    if name == "bulk":
        from ._builders_bulk import run
    elif name == "surf":
        from ._builders_surf import run
    else:
        from ._builders_mol import run
    return run


def _chunk_path(work: Path, task) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_+." else "_" for c in task.key)
    return work / task.dataset / "chunks" / f"{safe}-{zlib.crc32(task.key.encode()):08x}.npz"


def run_task(task, work: Path) -> dict:
    """Worker entry point: label one task and write its chunk file."""
    limit_threads()
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    log: list[str] = []
    by_family = _runner(task.dataset)(task, log)
    frames = [f for family_frames in by_family.values() for f in family_frames]
    families = [family for family, fs in by_family.items() for _ in fs]
    summary = {
        "key": task.key,
        "frames": len(frames),
        "wall_s": time.perf_counter() - t_wall,
        "cpu_s": time.process_time() - t_cpu,
        "log": log,
    }
    arrays = _store.frames_to_arrays(frames, families) if frames else {}
    arrays["summary"] = np.array(json.dumps(summary))
    _store.save(_chunk_path(work, task), arrays)
    return summary


def _say(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def generate(name: str, work: Path, workers: int = 2, seed: int = 0, out: Path | None = None):
    """Generate dataset ``name``: run the missing tasks, then assemble the split files.

    Resumable: finished tasks are chunk files under ``work/<name>/chunks`` and are skipped.
    The domain-bridging set ``bridge`` is labelled at two levels (see `_bridge`) and
    needs its sources, so ``all`` generates it last.
    """
    if name == "bridge":
        from ._bridge import generate as generate_bridge

        generate_bridge(work, workers, seed, out)
        return
    limit_threads()
    work = Path(work)
    out = Path(out) if out is not None else DATA_DIR
    all_tasks = tasks(name, seed)
    runs = run_pending(
        name, all_tasks, run_task, work, workers, seed, frames_of=lambda s: str(s["frames"])
    )
    assemble(name, work, seed, out, all_tasks, runs)


def run_pending(
    name: str,
    all_tasks: list,
    run: Callable,
    work: Path,
    workers: int,
    seed: int,
    frames_of: Callable[[dict], str],
) -> list[dict]:
    """Run the tasks whose chunk file is missing on a spawn process pool, one progress line
    per finished task, and append this run to ``work/<name>/runs.json``.

    ``run(task, work)`` labels one task and returns its summary (``key``, ``frames``,
    ``cpu_s``, ``log`` and whatever ``frames_of`` reads to describe the frame count).

    Returns:
        Every run recorded so far, this one last.
    """
    todo = [t for t in all_tasks if not _chunk_path(work, t).exists()]
    _say(f"{name}: {len(all_tasks)} tasks, {len(todo)} to run on {workers} workers")
    start = time.time()
    if todo:
        ctx = get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=limit_threads) as pool:
            futures = {pool.submit(run, t, work): t for t in todo}
            for k, fut in enumerate(as_completed(futures), 1):
                s = fut.result()
                _say(
                    f"{name} [{k}/{len(todo)}] {s['key']}: {frames_of(s)} frames, "
                    f"{s['cpu_s']:.1f} s cpu, {len(s['log'])} messages"
                )
    runs_file = work / name / "runs.json"
    runs = json.loads(runs_file.read_text()) if runs_file.exists() else []
    runs.append(
        {
            "start": datetime.fromtimestamp(start, timezone.utc).isoformat(timespec="seconds"),
            "wall_s": time.time() - start,
            "workers": workers,
            "tasks_run": len(todo),
            "command": f"mmh-data datasets generate {name} --workers {workers} --seed {seed}",
        }
    )
    runs_file.parent.mkdir(parents=True, exist_ok=True)
    runs_file.write_text(json.dumps(runs, indent=1))
    return runs


def provenance(name: str, seed: int, runs: list[dict], summaries: list[dict]) -> dict:
    """How a dataset was labelled: code, settings, versions, seed, runs and their totals."""
    return {
        "code": "tblite",
        "settings": {k: v for k, v in TBLITE_SETTINGS.items() if k != "verbosity"},
        "versions": _versions(),
        "seed": seed,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": f"mmh-data datasets generate {name} --seed {seed}",
        "runs": runs,
        "wall_s": sum(r["wall_s"] for r in runs),
        "cpu_s": sum(s["cpu_s"] for s in summaries),
        "skipped": [m for s in summaries for m in s["log"]],
    }


def isolated_atom_energies(numbers, method: str) -> tuple[dict[int, float], dict[int, int]]:
    """Energies (eV) of free neutral atoms in their ground-state spin at ``method``."""
    from ase import Atoms
    from ase.calculators.calculator import CalculationFailed

    from ._label import make_calculator

    energies, mults = {}, {}
    for z in sorted({int(z) for z in numbers}):
        unpaired = UNPAIRED.get(z, z % 2)
        for u in (unpaired, z % 2):
            atoms = Atoms(numbers=[z])
            atoms.calc = make_calculator(method, multiplicity=u + 1)
            try:
                energies[z] = float(atoms.get_potential_energy())
                mults[z] = u + 1
                break
            except CalculationFailed:
                continue
    return energies, mults


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("tblite", "ase", "numpy", "rdkit"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def assemble(name, work: Path, seed: int, out: Path, all_tasks, runs) -> dict:
    """Join chunk files into split files and write the metadata JSON."""
    parts, summaries = [], []
    for task in all_tasks:
        chunk = _store.load(_chunk_path(work, task))
        summaries.append(json.loads(str(chunk.pop("summary"))))
        if chunk:
            parts.append(chunk)
    arrays = _store.concatenate(parts)
    method = METHODS[name]
    e0, mult = isolated_atom_energies(arrays["numbers"], method)
    meta = {
        "name": name,
        "units": {"energy": "eV", "forces": "eV/Å", "stress": "eV/Å^3 (Voigt xx yy zz yz xz xy)"},
        "keys": {"energy": "REF_energy", "forces": "REF_forces", "stress": "REF_stress"},
        "provenance": {"method": method, **provenance(name, seed, runs, summaries)},
        "isolated_atom_energies": {str(z): e for z, e in e0.items()},
        "isolated_atom_multiplicity": {str(z): m for z, m in mult.items()},
        "has_stress": STRESS[name],
    }
    return write_splits(name, arrays, seed, out, meta)


def write_splits(name: str, arrays: dict, seed: int, out: Path, meta: dict) -> dict:
    """Split the frames of a dataset (see `_splits`), write one file per split and the
    metadata JSON (``meta`` with the splits' summaries added; an ``analysis`` entry of
    the existing metadata is kept)."""
    from ase.data import chemical_symbols

    offsets = arrays["offsets"]
    numbers = [arrays["numbers"][offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    if "family_index" not in arrays:  # frames in the order of generation
        arrays = dict(arrays, family_index=family_index(arrays["family"]))
    geometry = [
        numbers[i].tobytes()
        + arrays["positions"][offsets[i] : offsets[i + 1]].tobytes()
        + arrays["cell"][i].tobytes()
        for i in range(len(numbers))
    ]
    assignment = assign_splits(
        name, arrays["family"], arrays["family_index"], numbers, seed, geometry
    )
    meta = dict(meta)
    meta["split_rule"] = {
        "seed": seed,
        "holdout_per_family": HOLDOUT,
        "ood": "unseen families whose elements all occur in train",
        "command": f"mmh-data datasets resplit {name} --seed {seed}",
    }
    meta["splits"] = {}
    for split in SPLITS:
        (out / name / f"{split}.npz").unlink(missing_ok=True)
    for split in SPLITS:
        index = split_order(
            arrays["family"], arrays["family_index"], np.flatnonzero(assignment == split)
        )
        if len(index) == 0:
            continue
        part = _store.select(arrays, index)
        _store.save(out / name / f"{split}.npz", part)
        zs, counts = np.unique(part["numbers"], return_counts=True)
        types, type_counts = np.unique(part["config_type"], return_counts=True)
        meta["splits"][split] = {
            "frames": len(index),
            "atoms": int(part["offsets"][-1]),
            "families": sorted(set(part["family"].tolist())),
            "element_counts": {
                chemical_symbols[z]: int(c) for z, c in zip(zs, counts, strict=True)
            },
            "config_types": {str(t): int(c) for t, c in zip(types, type_counts, strict=True)},
        }
    meta_path = out / name / "metadata.json"
    old = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if "analysis" in old:
        meta["analysis"] = old["analysis"]
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    _say(
        f"{name}: wrote {sum(s['frames'] for s in meta['splits'].values())} frames to {out / name}"
    )
    return meta


def resplit(name: str, seed: int = 0, data: Path | None = None) -> dict:
    """Split a generated dataset again from its own split files (no labelling): the same
    files as generating it with this seed."""
    data = Path(data) if data is not None else DATA_DIR
    meta_path = data / name / "metadata.json"
    meta = json.loads(meta_path.read_text())
    parts = [_store.load(data / name / f"{split}.npz") for split in meta["splits"]]
    arrays = _store.concatenate(parts)
    keep = {k: v for k, v in meta.items() if k not in ("splits", "split_rule", "analysis")}
    keep["provenance"] = dict(keep["provenance"], seed=seed)
    return write_splits(name, arrays, seed, data, keep)
