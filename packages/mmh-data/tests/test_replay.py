"""Replay-buffer selection: counts, filters, FPS diversity, reproducibility, sources."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from mmh_data import (
    DataError,
    DataWarning,
    element_filter_mask,
    farthest_point_sampling,
    select_replay,
    select_replay_indices,
    structure_descriptors,
    write_lmdb,
)


@pytest.fixture
def pool(make_configs):
    # 4 chemistries x 15 structures, different sizes and densities
    out = []
    for k, elements in enumerate([(1, 8), (1, 6, 8), (6,), (1, 6, 7, 8)]):
        out += make_configs(15, n=4 + 2 * k, elements=elements, seed=10 + k, head="pt")
    return out


def _elements(config):
    return set(np.unique(config.atomic_numbers).tolist())


@pytest.mark.parametrize("method", ["random", "fps"])
@pytest.mark.parametrize("n", [1, 7, 60])
def test_exact_count_no_duplicates(pool, method, n):
    indices = select_replay_indices(pool, n, method=method, seed=3)
    assert len(indices) == n and len(set(indices.tolist())) == n


@pytest.mark.parametrize("method", ["random", "fps"])
def test_reproducible_from_seed(pool, method):
    a = select_replay_indices(pool, 10, method=method, seed=5)
    b = select_replay_indices(pool, 10, method=method, seed=5)
    c = select_replay_indices(pool, 10, method="random", seed=6)
    assert np.array_equal(a, b)
    if method == "random":
        assert not np.array_equal(a, c)


def test_element_filters():
    sets = [{1, 8}, {1, 6, 8}, {6}, {1, 6, 7, 8}, {1, 6, 8}]
    ft = [1, 6, 8]
    assert element_filter_mask(sets, ft, "none").tolist() == [True] * 5
    assert element_filter_mask(sets, ft, "combinations").tolist() == [1, 1, 1, 0, 1]
    assert element_filter_mask(sets, ft, "inclusive").tolist() == [0, 1, 0, 1, 1]
    assert element_filter_mask(sets, ft, "exclusive").tolist() == [0, 1, 0, 0, 1]
    with pytest.raises(ValueError, match="needs the fine-tuning elements"):
        element_filter_mask(sets, None, "inclusive")
    with pytest.raises(ValueError, match="unknown filter"):
        element_filter_mask(sets, ft, "subset")


@pytest.mark.parametrize("filter_type", ["combinations", "inclusive", "exclusive"])
@pytest.mark.parametrize("method", ["random", "fps"])
def test_selection_passes_filter(pool, filter_type, method):
    ft = {1, 6, 8}
    chosen = select_replay(pool, 12, method=method, filter=filter_type, elements=ft, seed=1)
    assert len(chosen) == 12
    for c in chosen:
        s = _elements(c)
        assert {"combinations": s <= ft, "inclusive": s >= ft, "exclusive": s == ft}[filter_type]


def test_too_many_is_an_error_or_an_explicit_warning(pool):
    available = sum(_elements(c) == {1, 6, 8} for c in pool)
    assert 0 < available < 20
    with pytest.raises(DataError, match=f"only {available} of 60 pass the 'exclusive'"):
        select_replay(pool, available + 1, filter="exclusive", elements=[1, 6, 8])
    with pytest.warns(DataWarning, match=f"returning all {available}"):
        chosen = select_replay(
            pool, available + 1, filter="exclusive", elements=[1, 6, 8], allow_fewer=True
        )
    assert len(chosen) == available
    assert len(select_replay(pool, available, filter="exclusive", elements=[1, 6, 8])) == available
    with pytest.raises(DataError):
        select_replay(pool, 61)


def _mean_nn_distance(X):
    d = np.linalg.norm(X[:, None] - X[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1).mean()


def test_fps_more_diverse_than_random(pool):
    X = structure_descriptors(pool, cutoff=4.0)
    n = 12
    fps = select_replay_indices(pool, n, method="fps", descriptors=X, seed=0)
    fps_score = _mean_nn_distance(X[fps])
    random_scores = [
        _mean_nn_distance(X[select_replay_indices(pool, n, method="random", seed=s)])
        for s in range(10)
    ]
    assert fps_score > max(random_scores)


def test_farthest_point_sampling_on_points():
    # Two tight clusters and one outlier: the first three FPS picks span all three.
    X = np.concatenate([np.zeros((20, 2)), np.ones((20, 2)) * 10, [[100.0, 0.0]]])
    X[:40] += np.random.default_rng(0).normal(size=(40, 2)) * 0.01
    picks = farthest_point_sampling(X, 3, seed=0)
    groups = {0 if p < 20 else 1 if p < 40 else 2 for p in picks.tolist()}
    assert groups == {0, 1, 2}


def test_user_descriptors_array_and_callable(pool):
    X = np.arange(len(pool), dtype=float)[:, None]  # points on a line
    first, second, third = select_replay_indices(pool, 3, method="fps", descriptors=X, seed=0)
    far_end = 0 if first > (len(pool) - 1) / 2 else len(pool) - 1
    assert second == far_end  # the farthest point from the first
    assert third not in (first, second)
    calls = []

    def descriptor(configs):
        calls.append(len(configs))
        return np.array([[c.num_atoms] for c in configs], dtype=float)

    select_replay_indices(
        pool, 4, method="fps", descriptors=descriptor, filter="combinations", elements=[1, 6, 8]
    )
    candidates = sum(_elements(c) <= {1, 6, 8} for c in pool)
    assert calls == [candidates] and candidates < len(pool)  # only the filtered candidates
    with pytest.raises(ValueError, match="rows"):
        select_replay_indices(pool, 3, method="fps", descriptors=X[:5])


def test_descriptors_are_invariant(pool):
    c = pool[20]
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    perm = rng.permutation(c.num_atoms)
    moved = c.replace(
        positions=(c.positions @ q.T + 3.0)[perm],
        atomic_numbers=c.atomic_numbers[perm],
        forces=None,
    )
    X = structure_descriptors([c, moved], elements=[1, 6, 7, 8])
    np.testing.assert_allclose(X[0], X[1], atol=1e-10)


def test_sources_file_list_atoms_and_store(tmp_path, pool):
    atoms = [c.to_atoms() for c in pool]
    path = tmp_path / "pool.xyz"
    ase.io.write(path, atoms, format="extxyz")
    store = tmp_path / "pool.lmdb"
    write_lmdb(store, pool)
    kwargs = dict(method="fps", filter="combinations", elements=[1, 6, 8], seed=4)
    results = [select_replay(source, 9, **kwargs) for source in (pool, atoms, path, [path], store)]
    energies = [[round(c.energy, 6) for c in r] for r in results]
    assert all(len(r) == 9 for r in results)
    assert all(e == energies[0] for e in energies)
    relabelled = select_replay(path, 5, head="pt_head", weight=0.5)
    assert {c.head for c in relabelled} == {"pt_head"} and {c.weight for c in relabelled} == {0.5}
