"""Statistics in one linear pass: equal to the in-memory computation, mergeable, cached."""

from __future__ import annotations

import os
import tracemalloc
import warnings

import ase.io
import numpy as np
import pytest
from mmh_data import (
    SIDECAR_SUFFIX,
    Configuration,
    DataWarning,
    LMDBReader,
    StatisticsAccumulator,
    average_e0s,
    cached_statistics,
    fit_e0s,
    iter_configurations,
    neighbour_list,
    write_lmdb,
)


def _molecules(rng, count, elements=(1, 6, 8)):
    e0 = {1: -13.6, 6: -1029.4, 8: -2041.7}
    out = []
    for k in range(count):
        n = int(rng.integers(2, 7))
        z = rng.choice(elements, size=n)
        pos = np.arange(n)[:, None] * np.array([1.1, 0.2, 0.0]) + rng.normal(size=(n, 3)) * 0.05
        energy = sum(e0[int(a)] for a in z) - 0.4 * n + 0.1 * rng.normal()
        out.append(
            Configuration(
                atomic_numbers=z,
                positions=pos,
                energy=energy,
                forces=rng.normal(size=(n, 3)),
                source_index=k,
            )
        )
    out.append(
        Configuration(
            atomic_numbers=[1], positions=[[0, 0, 0]], energy=-13.5, config_type="IsolatedAtom"
        )
    )
    return out


def _reference(configs, cutoff):
    """The in-memory computation: full composition matrix, numpy lstsq, numpy moments."""
    rows = [c for c in configs if c.energy is not None and c.config_type != "IsolatedAtom"]
    elements = sorted({int(z) for c in rows for z in c.atomic_numbers})
    A = np.array([[np.sum(c.atomic_numbers == z) for z in elements] for c in rows], float)
    b = np.array([c.energy for c in rows])
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    e0 = dict(zip(elements, x, strict=True))
    per_atom = (b - A @ x) / A.sum(axis=1)
    edges = sum(neighbour_list(c.positions, c.cell, c.pbc, cutoff)[0].shape[1] for c in rows)
    forces = np.concatenate([c.forces for c in rows])
    return {
        "e0s": e0,
        "mean": per_atom.mean(),
        "std": per_atom.std(),
        "neighbours": edges / sum(c.num_atoms for c in rows),
        "rms_force": np.sqrt(np.mean(forces**2)),
    }


def _check(stats, ref):
    for z, value in ref["e0s"].items():
        assert stats.e0s[z] == pytest.approx(value, abs=1e-8)
    assert stats.mean_interaction_energy == pytest.approx(ref["mean"], abs=1e-9)
    assert stats.std_interaction_energy == pytest.approx(ref["std"], rel=1e-7)
    assert stats.avg_num_neighbours == pytest.approx(ref["neighbours"], rel=1e-12)
    assert stats.rms_force == pytest.approx(ref["rms_force"], rel=1e-12)


def test_one_pass_equals_the_in_memory_computation():
    configs = _molecules(np.random.default_rng(0), 300)
    ref = _reference(configs, 2.0)
    stats = StatisticsAccumulator("h", 2.0).update(configs).result("average")
    _check(stats, ref)
    assert stats.e0s == pytest.approx(average_e0s(configs))


def test_merged_parts_and_saved_state_equal_the_whole():
    configs = _molecules(np.random.default_rng(1), 200)
    whole = StatisticsAccumulator("h", 2.0).update(configs)
    a = StatisticsAccumulator("h", 2.0).update(configs[:70])
    b = StatisticsAccumulator("h", 2.0).update(configs[70:])
    restored = StatisticsAccumulator.from_state_dict(b.state_dict())
    merged = StatisticsAccumulator("h", 2.0).merge(a).merge(restored)
    for method in ("auto", "average"):
        s1, s2 = whole.result(method), merged.result(method)
        assert s1.e0s == pytest.approx(s2.e0s, abs=1e-9)
        assert s1.mean_interaction_energy == pytest.approx(s2.mean_interaction_energy, abs=1e-9)
        assert s1.std_interaction_energy == pytest.approx(s2.std_interaction_energy, rel=1e-7)
        assert s1.avg_num_neighbours == s2.avg_num_neighbours
        assert (s1.num_configs, s1.num_isolated_atoms) == (s2.num_configs, s2.num_isolated_atoms)
    with pytest.raises(ValueError, match="cutoff"):
        StatisticsAccumulator("h", 3.0).merge(a)


def test_e0_fit_memory_is_linear_in_the_structures():
    # 300,000 structures x 4 elements: the old full SVD asked for a 300,000² array
    rng = np.random.default_rng(2)
    A = rng.integers(0, 5, size=(300_000, 4)).astype(float)
    true = np.array([-13.6, -1029.4, -1484.2, -2041.7])
    b = A @ true + rng.normal(size=len(A)) * 1e-3
    tracemalloc.start()
    e0s = fit_e0s(A, b, [1, 6, 7, 8])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * A.nbytes
    assert list(e0s.values()) == pytest.approx(true, abs=1e-4)
    small = A[:500]
    x, *_ = np.linalg.lstsq(small, b[:500], rcond=None)
    assert list(fit_e0s(small, b[:500], [1, 6, 7, 8]).values()) == pytest.approx(x, abs=1e-9)


def _write_xyz(path, configs):
    frames = []
    for c in configs:
        atoms = c.to_atoms()
        atoms.info = {"REF_energy": c.energy, "config_type": c.config_type}
        atoms.arrays["REF_forces"] = c.forces if c.forces is not None else np.zeros((1, 3))
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")


def test_sidecar_cache_is_reused_and_invalidated(tmp_path):
    configs = _molecules(np.random.default_rng(3), 60)
    path = tmp_path / "train.xyz"
    _write_xyz(path, configs)
    calls = []

    def read():
        calls.append(1)
        return iter_configurations(path)

    acc, status = cached_statistics(path, read, head="h", cutoff=2.0)
    assert status == "computed" and (tmp_path / f"train.xyz{SIDECAR_SUFFIX}").exists()
    again, status = cached_statistics(path, read, head="other", cutoff=2.0)
    assert status == "cached" and len(calls) == 1 and again.head == "other"
    assert again.result().e0s == acc.result().e0s
    # another cutoff is another entry
    _, status = cached_statistics(path, read, head="h", cutoff=3.0)
    assert status == "computed" and len(calls) == 2
    # the file changes: the cache is for a different file
    _write_xyz(path, configs[:30])
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.warns(DataWarning, match="different version of"):
        fresh, status = cached_statistics(path, read, head="h", cutoff=2.0)
    assert status == "computed" and fresh.num_configs == 30


def test_lmdb_cache_lives_in_the_store_metadata(tmp_path):
    configs = _molecules(np.random.default_rng(4), 50)
    path = tmp_path / "train.lmdb"
    write_lmdb(path, configs)
    with LMDBReader(path) as reader:
        ref = StatisticsAccumulator("h", 2.0).update(reader).result()
    _, status = cached_statistics(path, lambda: LMDBReader(path), head="h", cutoff=2.0)
    assert status == "computed"
    assert not (tmp_path / f"train.lmdb{SIDECAR_SUFFIX}").exists()
    with LMDBReader(path) as reader:
        assert "statistics_cache" in reader.metadata and len(reader) == 51

    def fail():
        raise AssertionError("the cache was not used")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached, status = cached_statistics(path, fail, head="h", cutoff=2.0)
    assert status == "cached"
    assert cached.result().e0s == pytest.approx(ref.e0s, abs=1e-10)
    assert cached.result().avg_num_neighbours == ref.avg_num_neighbours


def test_the_statistics_key_does_not_depend_on_how_the_default_key_map_is_spelt():
    from mmh_data import KeySpec, statistics_key

    assert (
        statistics_key(5.0) == statistics_key(5.0, {}) == statistics_key(5.0, KeySpec().to_dict())
    )
    assert statistics_key(5.0, {"energy": "E"}) != statistics_key(5.0)
