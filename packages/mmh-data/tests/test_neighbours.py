"""Neighbour lists against ASE's reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.neighborlist import neighbor_list as ase_neighbor_list
from mmh_data import neighbour_list


def _random_case(rng: np.random.Generator, kind: str):
    n = int(rng.integers(1, 10))
    if kind == "orthogonal":
        cell = np.diag(rng.uniform(2.0, 8.0, size=3))
    elif kind == "triclinic":
        cell = np.diag(rng.uniform(3.0, 7.0, size=3)) + np.triu(rng.uniform(-2, 2, (3, 3)), 1)
        cell = cell @ _rotation(rng)
    elif kind == "small":  # cell much smaller than the cutoff
        cell = np.diag(rng.uniform(1.0, 2.0, size=3)) + rng.uniform(-0.3, 0.3, (3, 3))
    else:
        raise ValueError(kind)
    pbc = rng.random(3) < 0.5 if rng.random() < 0.5 else np.array([True, True, True])
    if kind == "small" and not pbc.any():
        pbc[int(rng.integers(3))] = True
    frac = rng.random((n, 3))
    frac[:, ~pbc] = rng.uniform(-0.5, 1.5, size=(n, int((~pbc).sum())))
    positions = frac @ cell
    cutoff = float(rng.uniform(1.5, 4.5))
    return positions, cell, pbc, cutoff


def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _as_set(i, j, shifts):
    return sorted(zip(i.tolist(), j.tolist(), map(tuple, shifts.tolist()), strict=True))


@pytest.mark.parametrize("kind", ["orthogonal", "triclinic", "small"])
def test_equal_to_ase_on_random_cells(kind):
    # 3 kinds x 67 cells = 201 random cells, mixed pbc in about half of them.
    rng = np.random.default_rng({"orthogonal": 1, "triclinic": 2, "small": 3}[kind])
    mixed = 0
    for _ in range(67):
        positions, cell, pbc, cutoff = _random_case(rng, kind)
        mixed += int(0 < pbc.sum() < 3)
        atoms = Atoms(numbers=[1] * len(positions), positions=positions, cell=cell, pbc=pbc)
        i, j, shifts = ase_neighbor_list("ijS", atoms, cutoff)
        edge_index, unit_shifts = neighbour_list(positions, cell, pbc, cutoff)
        assert edge_index.dtype == np.int64 and unit_shifts.dtype == np.int64
        ours = _as_set(edge_index[0], edge_index[1], unit_shifts)
        assert ours == _as_set(i, j, shifts), (kind, pbc, cutoff)
        # no duplicates
        assert len(set(ours)) == len(ours)
    assert mixed > 10


def test_non_periodic_molecule_equals_ase():
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(30, 3)) * 2.0
    atoms = Atoms(numbers=[6] * 30, positions=positions)
    i, j, shifts = ase_neighbor_list("ijS", atoms, 3.0)
    edge_index, unit_shifts = neighbour_list(positions, None, False, 3.0)
    assert _as_set(*edge_index, unit_shifts) == _as_set(i, j, shifts)
    assert not unit_shifts.any()


def test_direction_convention_and_edge_vectors():
    # Sender i = edge_index[0], receiver j = edge_index[1];
    # vector = pos[j] - pos[i] + S @ cell, as ASE's "D".
    rng = np.random.default_rng(5)
    cell = np.array([[4.0, 0.0, 0.0], [1.0, 3.5, 0.0], [0.5, 0.3, 3.8]])
    positions = rng.random((5, 3)) @ cell
    atoms = Atoms(numbers=[1] * 5, positions=positions, cell=cell, pbc=True)
    i, j, D = ase_neighbor_list("ijD", atoms, 3.0)
    reference = {(a, b, *np.round(d, 8)) for a, b, d in zip(i, j, D, strict=True)}
    edge_index, shifts = neighbour_list(positions, cell, True, 3.0)
    vectors = positions[edge_index[1]] - positions[edge_index[0]] + shifts @ cell
    ours = {(a, b, *np.round(d, 8)) for a, b, d in zip(*edge_index, vectors, strict=True)}
    assert ours == reference
    assert np.all(np.linalg.norm(vectors, axis=1) < 3.0)


def test_no_true_self_edges_but_periodic_self_images():
    cell = np.eye(3) * 2.0  # smaller than the cutoff: the atom sees its own images
    edge_index, shifts = neighbour_list(np.zeros((1, 3)), cell, True, 3.0)
    assert edge_index.shape[1] == 18  # 6 face + 12 edge neighbours at 2 and 2.83 Å
    assert np.all(edge_index == 0)
    assert np.all(np.abs(shifts).sum(axis=1) > 0)
    assert len({tuple(s) for s in shifts.tolist()}) == 18


def test_mixed_pbc_with_zero_vector_in_open_direction():
    cell = np.array([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 0]])  # a slab, no vector along z
    positions = np.array([[0.0, 0, 0], [1.5, 1.5, 1.0]])
    atoms = Atoms(numbers=[1, 1], positions=positions, cell=cell, pbc=[True, True, False])
    i, j, s = ase_neighbor_list("ijS", atoms, 3.2)
    edge_index, shifts = neighbour_list(positions, cell, [True, True, False], 3.2)
    assert _as_set(*edge_index, shifts) == _as_set(i, j, s)
    assert not shifts[:, 2].any()


def test_empty_and_bad_inputs():
    edge_index, shifts = neighbour_list(np.zeros((0, 3)), None, False, 3.0)
    assert edge_index.shape == (2, 0) and shifts.shape == (0, 3)
    with pytest.raises(ValueError, match="cutoff"):
        neighbour_list(np.zeros((2, 3)), None, False, 0.0)
    with pytest.raises(ValueError, match="periodic directions"):
        neighbour_list(np.zeros((2, 3)), np.zeros((3, 3)), True, 3.0)
