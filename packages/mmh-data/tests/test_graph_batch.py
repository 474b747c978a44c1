"""Graphs, collation into batches, and the DataLoader path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.neighborlist import neighbor_list as ase_neighbor_list
from mmh_data import (
    Batch,
    Configuration,
    GraphBuilder,
    GraphDataset,
    build_graph,
    collate,
    graph_loader,
)

BATCH_FIELDS = {
    "positions", "atomic_numbers", "edge_index", "unit_shifts", "cell", "pbc", "batch",
    "ptr", "num_atoms", "head", "energy", "forces", "stress", "weight", "energy_weight",
    "forces_weight", "stress_weight",
}  # fmt: skip


def test_graph_fields_and_dtypes(make_configs, dtype):
    (config,) = make_configs(1, periodic=True, stress=True, head="b")
    graph = build_graph(config, cutoff=4.0, heads=["a", "b"], dtype=dtype)
    n = config.num_atoms
    assert graph.positions.shape == (n, 3) and graph.positions.dtype == dtype
    assert graph.atomic_numbers.dtype == torch.int64
    assert graph.edge_index.dtype == torch.int64 and graph.edge_index.shape[0] == 2
    assert graph.unit_shifts.dtype == dtype
    assert torch.equal(graph.unit_shifts, graph.unit_shifts.round())
    assert graph.cell.shape == (3, 3) and graph.pbc.dtype == torch.bool
    assert graph.head.item() == 1 and graph.head.dtype == torch.int64
    for name in ("energy", "weight", "energy_weight", "forces_weight", "stress_weight"):
        t = getattr(graph, name)
        assert t.shape == () and t.dtype == dtype
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    assert graph.energy.item() == pytest.approx(config.energy, rel=tol)
    np.testing.assert_allclose(graph.forces.numpy(), config.forces, rtol=tol, atol=tol)
    np.testing.assert_allclose(graph.stress.numpy(), config.stress, rtol=tol, atol=tol)


def test_graph_edges_match_ase(make_configs):
    (config,) = make_configs(1, n=8, periodic=True)
    graph = build_graph(config, cutoff=5.0, dtype=torch.float64)
    atoms = config.to_atoms()
    i, _, d = ase_neighbor_list("ijd", atoms, 5.0)
    lengths = graph.edge_vectors().norm(dim=1).numpy()
    assert graph.num_edges == len(i)
    np.testing.assert_allclose(np.sort(lengths), np.sort(d), atol=1e-10)


def test_missing_labels_are_zero_with_weight_zero(dtype):
    config = Configuration(atomic_numbers=[8, 1], positions=[[0, 0, 0], [0, 0, 1.0]])
    graph = build_graph(config, cutoff=3.0, dtype=dtype)
    assert graph.energy.item() == 0 and graph.energy_weight.item() == 0
    assert not graph.forces.any() and graph.forces_weight.item() == 0
    assert not graph.stress.any() and graph.stress_weight.item() == 0
    assert not graph.cell.any() and not graph.pbc.any()


def test_collate_shapes_offsets_and_mixed_heads(make_configs, dtype):
    configs = make_configs(2, n=5, head="a", seed=1) + make_configs(
        1, n=7, periodic=True, stress=True, head="b", seed=2
    )
    builder = GraphBuilder(4.0, heads=["a", "b"], dtype=dtype)
    graphs = [builder(c) for c in configs]
    batch = collate(graphs)
    assert BATCH_FIELDS <= {f for f in vars(batch)}
    assert batch.num_graphs == 3
    assert batch.num_atoms.tolist() == [5, 5, 7] and batch.ptr.tolist() == [0, 5, 10, 17]
    assert batch.batch.tolist() == [0] * 5 + [1] * 5 + [2] * 7
    assert batch.head.tolist() == [0, 0, 1] and batch.head_name == ["a", "a", "b"]
    assert batch.cell.shape == (3, 3, 3) and not batch.cell[0].any() and batch.cell[2].any()
    assert batch.pbc.tolist() == [[False] * 3, [False] * 3, [True] * 3]
    assert batch.stress.shape == (3, 3, 3) and batch.stress_weight.tolist() == [0, 0, 1]
    assert batch.positions.dtype == dtype and batch.unit_shifts.dtype == dtype
    assert batch.edge_index.dtype == torch.int64 and batch.batch.dtype == torch.int64
    # edges stay inside their graph and reproduce the per-graph edge vectors
    assert torch.equal(batch.batch[batch.edge_index[0]], batch.batch[batch.edge_index[1]])
    expected = torch.cat([g.edge_vectors() for g in graphs])
    assert torch.allclose(batch.edge_vectors(), expected)  # (assert_close imports slowly)
    assert batch.num_edges == sum(g.num_edges for g in graphs)
    assert torch.equal(batch.energy, torch.stack([g.energy for g in graphs]))


def test_collate_casts_dtype(make_configs):
    graphs = [build_graph(c, cutoff=3.0, dtype=torch.float64) for c in make_configs(2)]
    batch = collate(graphs, dtype=torch.float32)
    assert batch.positions.dtype == torch.float32 and batch.energy.dtype == torch.float32
    assert batch.edge_index.dtype == torch.int64
    mixed = [graphs[0], build_graph(make_configs(1)[0], cutoff=3.0, dtype=torch.float32)]
    with pytest.raises(ValueError, match="dtype"):
        collate(mixed)


def test_batch_to(make_configs):
    batch = collate([build_graph(c, cutoff=3.0, dtype=torch.float64) for c in make_configs(2)])
    moved = batch.to("cpu", dtype=torch.float32)
    assert isinstance(moved, Batch) and moved.device.type == "cpu"
    assert moved.forces.dtype == torch.float32 and moved.head.dtype == torch.int64
    assert moved.pbc.dtype == torch.bool and moved.config_type == batch.config_type
    if torch.cuda.is_available():
        assert batch.to("cuda").positions.is_cuda


def test_edge_vectors_are_differentiable(make_configs):
    (config,) = make_configs(1, periodic=True)
    batch = collate([build_graph(config, cutoff=4.0, dtype=torch.float64)])
    batch.positions.requires_grad_(True)
    batch.cell.requires_grad_(True)
    batch.edge_vectors().norm(dim=1).sum().backward()
    assert batch.positions.grad is not None and batch.cell.grad is not None


def test_dataloader_with_workers_matches_serial(make_configs, dtype):
    configs = make_configs(24, n=6, seed=3)
    dataset = GraphDataset(configs, GraphBuilder(4.0, dtype=dtype))
    serial = list(graph_loader(dataset, batch_size=5, num_workers=0))
    parallel = list(graph_loader(dataset, batch_size=5, num_workers=2))
    assert len(serial) == len(parallel) == 5
    for a, b in zip(serial, parallel, strict=True):
        assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.positions, b.positions)
        assert a.positions.dtype == dtype


def test_dataloader_shuffle_is_seeded(make_configs):
    dataset = GraphDataset(make_configs(20), GraphBuilder(4.0))

    def order(seed):
        loader = graph_loader(dataset, batch_size=20, shuffle=True, num_workers=0, seed=seed)
        return next(iter(loader)).energy.tolist()

    assert order(1) == order(1) and order(1) != order(2)


def test_batch_pickles_compactly_and_exactly(make_configs, dtype):
    import pickle

    configs = make_configs(3, periodic=True, stress=True, head="b")
    batch = collate([build_graph(c, cutoff=4.0, heads=["a", "b"], dtype=dtype) for c in configs])
    back = pickle.loads(pickle.dumps(batch))
    for name in BATCH_FIELDS:
        a, b = getattr(batch, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), name
    assert back.config_type == batch.config_type and back.source == batch.source
    back.positions.requires_grad_(True)  # usable as a model input
    assert back.edge_vectors().requires_grad
    batch.positions.requires_grad_(True)  # autograd tensors take the plain path
    again = pickle.loads(pickle.dumps(batch.to(dtype=dtype)))
    assert torch.equal(again.forces, batch.forces)
