"""The shipped equivariance helpers must catch broken models (testing the tester)."""

import pytest
import torch
from mmh_layers.testing import (
    assert_o3_equivariant,
    assert_permutation_equivariant,
    assert_translation_invariant,
)


def _good(pos, z, cell):
    d = torch.linalg.vector_norm(pos[:, None] - pos[None], dim=-1)
    energy = torch.exp(-d).sum() + z.double().sum()
    dipole = (z.double()[:, None] * (pos - pos.mean(0))).sum(0)
    return {"energy": energy, "dipole": dipole, "gram": pos.T @ pos}


def test_helpers_accept_a_correct_function():
    pos = torch.randn(5, 3, dtype=torch.float64)
    z = torch.arange(5)
    kinds = {"energy": "scalar", "dipole": "vector", "gram": "matrix"}
    assert_o3_equivariant(_good, pos, z, kinds)
    assert_translation_invariant(_good, pos, z, {"energy": "scalar", "dipole": "vector"})
    assert_permutation_equivariant(_good, pos, z, {"energy": False})


def test_broken_rotation_is_caught():
    def broken(pos, z, cell):  # depends on the raw x coordinate
        return {"energy": (pos[:, 0] ** 2).sum()}

    with pytest.raises(AssertionError, match="not O\\(3\\)-equivariant"):
        assert_o3_equivariant(
            broken, torch.randn(4, 3, dtype=torch.float64), torch.ones(4), {"energy": "scalar"}
        )


def test_broken_parity_is_caught():
    """A pseudo-scalar (triple product) is rotation-invariant but flips under inversion."""

    def chiral(pos, z, cell):
        return {"energy": torch.linalg.det(pos[:3] - pos[3])}

    pos = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(AssertionError, match="det Q = -1"):
        assert_o3_equivariant(chiral, pos, torch.ones(4), {"energy": "scalar"})


def test_broken_translation_and_permutation_are_caught():
    def absolute(pos, z, cell):
        return {"energy": pos.sum(), "per_atom": pos[:, 0] * torch.arange(pos.shape[0])}

    pos = torch.randn(5, 3, dtype=torch.float64)
    with pytest.raises(AssertionError, match="translation"):
        assert_translation_invariant(absolute, pos, torch.ones(5), {"energy": "scalar"})
    with pytest.raises(AssertionError, match="permutation"):
        assert_permutation_equivariant(absolute, pos, torch.ones(5), {"per_atom": True})
