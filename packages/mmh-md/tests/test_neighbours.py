"""The torch neighbour list finds the pairs of mmh-data's vesin list."""

import numpy as np
import pytest
import torch
from mmh_data import neighbour_list
from mmh_md import torch_neighbour_list


def _pairs(edge_index, shifts):
    senders, receivers = np.asarray(edge_index)
    rows = zip(senders, receivers, shifts, strict=True)
    return sorted((int(i), int(j), *map(int, s)) for i, j, s in rows)


@pytest.mark.parametrize("seed", range(25))
def test_same_pairs_as_vesin(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    cell = np.diag(rng.uniform(2.0, 6.0, 3)) + rng.normal(scale=0.5, size=(3, 3))
    if seed % 5 == 0:  # a slab whose periodic vectors are not in the xy plane
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        cell = cell @ rotation
    pbc = rng.integers(0, 2, 3).astype(bool) if seed % 5 else np.array([True, True, False])
    positions = rng.uniform(-3.0, 8.0, (n, 3))  # some outside the cell
    cutoff = float(rng.uniform(1.5, 5.0))
    expected = _pairs(*neighbour_list(positions, cell, pbc, cutoff))
    ei, shifts = torch_neighbour_list(
        torch.tensor(positions), torch.tensor(cell), torch.tensor(pbc), cutoff, chunk_pairs=50
    )
    assert _pairs(ei.numpy(), shifts.numpy()) == expected


def test_degenerate_periodic_cell_is_an_error():
    with pytest.raises(ValueError, match="linearly independent"):
        torch_neighbour_list(torch.zeros(2, 3), torch.zeros(3, 3), torch.tensor(True), 2.0)
