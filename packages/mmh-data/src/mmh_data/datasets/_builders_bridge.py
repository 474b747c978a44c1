"""``bridge``: a domain-bridging set (DBS), training structures labelled at both levels.

Structures are drawn from the **training** splits of ``mol``, ``surf`` and ``bulk`` only
(never from their validation or test splits, never from ``mol-base``), round-robin over
their structure families so that every family of a source is represented, and each is
labelled afresh at GFN1-xTB *and* GFN2-xTB. A structure whose SCF fails at either level is
skipped and logged, and the next reserve structure of the same family takes its place
(GFN2-xTB does not converge on many metallic cells with the datasets' settings), so every
stored structure carries both label sets.
"""

from __future__ import annotations

import numpy as np

from ._label import make_calculator
from ._task import Task

#: Source dataset -> number of its training structures to draw.
SOURCES: dict[str, int] = {"mol": 160, "surf": 80, "bulk": 80}

#: Label prefix -> tblite method. Keys of a frame are ``<prefix>_energy`` etc.
LEVELS: dict[str, str] = {"gfn1": "GFN1-xTB", "gfn2": "GFN2-xTB"}

#: Sources whose cells are periodic in three directions: their frames get stress labels.
WITH_STRESS = ("bulk",)

#: Reserve structures per chosen one, tried in order when an SCF fails.
RESERVE = 2


def select(
    source: str, families: np.ndarray, count: int, seed: int
) -> dict[str, tuple[list[int], list[int]]]:
    """Indices of ``count`` structures of a training split, spread over its families.

    Families are visited in a seeded random order, round after round, each round taking
    the next structure of every family (structures of a family in seeded random order), so
    the selection covers as many families as ``count`` allows. Each family also gets up to
    ``RESERVE`` further structures per chosen one, the next ones in its order.

    Args:
        source: Source dataset name (part of the random stream).
        families: Family of every structure of the split.
        count: Number of structures (at most the split size).
        seed: Generation seed.

    Returns:
        ``{family: (chosen indices, reserve indices)}`` for the families that got at
        least one structure.
    """
    import zlib

    rng = np.random.default_rng(
        np.random.SeedSequence([seed, zlib.crc32(f"bridge/{source}".encode())])
    )
    names = sorted(set(families.tolist()))
    order = [names[i] for i in rng.permutation(len(names))]
    members = {f: [int(i) for i in rng.permutation(np.flatnonzero(families == f))] for f in order}
    count = min(count, len(families))
    chosen: dict[str, list[int]] = {}
    taken, depth = 0, 0
    while taken < count:
        for fam in order:
            if depth < len(members[fam]) and taken < count:
                chosen.setdefault(fam, []).append(members[fam][depth])
                taken += 1
        depth += 1
    out = {}
    for fam, idx in chosen.items():
        reserve = members[fam][len(idx) : len(idx) * (1 + RESERVE)]
        out[fam] = (sorted(idx), reserve)
    return out


def tasks(seed: int) -> list[Task]:
    """One task per (source, family): the chosen training structures of that family."""
    from . import load_arrays

    out = []
    for source, count in SOURCES.items():
        families = load_arrays(source, "train")["family"]
        for family, (chosen, reserve) in sorted(select(source, families, count, seed).items()):
            key = f"{source}:{family}"
            params = {"source": source, "indices": chosen, "reserve": reserve}
            out.append(Task("bridge", key, key, params, seed))
    return out


def _results(atoms, method: str, with_stress: bool, log: list, what: str):
    from ase.calculators.calculator import CalculationFailed

    work = atoms.copy()
    work.calc = make_calculator(method)
    try:
        energy = work.get_potential_energy()
    except CalculationFailed as err:
        log.append(f"skipped {what} at {method}: {err}")
        return None
    res = work.calc.results
    stress = np.asarray(res["stress"], dtype=float).copy() if with_stress else np.zeros(6)
    return float(energy), np.array(res["forces"], dtype=float), stress


def _native(source: str) -> str:
    return "gfn2" if source == "mol" else "gfn1"


def run(task: Task, log: list) -> dict[str, np.ndarray]:
    """Label the task's structures at every level; storage arrays (see `_bridge`).

    The other level than the source's is computed first (it is the one that may fail);
    a failed structure is replaced by the next reserve structure of the family.
    """
    from . import _store, load_arrays

    source = task.params["source"]
    wanted = len(task.params["indices"])
    indices = np.asarray([*task.params["indices"], *task.params["reserve"]], dtype=int)
    arrays = _store.select(load_arrays(source, "train"), indices)
    frames = _store.to_atoms(arrays)
    with_stress = source in WITH_STRESS
    order = sorted(LEVELS, key=lambda p: p == _native(source))
    kept, labels = [], {p: [] for p in LEVELS}
    deviation = {"energy": 0.0, "forces": 0.0, "stress": 0.0}
    for k, atoms in enumerate(frames):
        if len(kept) == wanted:
            break
        what = f"{source}:train[{indices[k]}] ({atoms.get_chemical_formula()})"
        results = {}
        for p in order:
            results[p] = _results(atoms, LEVELS[p], with_stress, log, what)
            if results[p] is None:
                break
        if any(r is None for r in results.values()):
            continue
        kept.append(k)
        for p, r in results.items():
            labels[p].append(r)
        # the level of the source must reproduce its stored label
        native = results[_native(source)]
        deviation["energy"] = max(deviation["energy"], abs(native[0] - atoms.info["REF_energy"]))
        dev_f = float(np.abs(native[1] - atoms.arrays["REF_forces"]).max())
        deviation["forces"] = max(deviation["forces"], dev_f)
        if with_stress:
            dev_s = float(np.abs(native[2] - atoms.info["REF_stress"]).max())
            deviation["stress"] = max(deviation["stress"], dev_s)
    worst = np.array([deviation[k] for k in ("energy", "forces", "stress")])
    if not kept:
        return {"native_deviation": worst}
    part = _store.select(arrays, np.asarray(kept, dtype=int))
    out = {k: part[k] for k in ("offsets", "numbers", "positions", "cell", "pbc", "config_type")}
    out["family"] = np.array([task.family] * len(kept), dtype=str)
    out["source"] = np.array([source] * len(kept), dtype=str)
    out["source_index"] = indices[kept].astype(np.int64)
    out["has_stress"] = np.full(len(kept), with_stress, dtype=bool)
    for p in LEVELS:
        out[f"{p}_energy"] = np.array([r[0] for r in labels[p]], dtype=np.float64)
        out[f"{p}_forces"] = np.concatenate([r[1] for r in labels[p]]).astype(np.float64)
        out[f"{p}_stress"] = np.stack([r[2] for r in labels[p]]).astype(np.float64)
    out["native_deviation"] = worst
    return out
