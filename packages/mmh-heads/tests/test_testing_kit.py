"""The test kit is tested: each deliberately broken model fails the check of its property, and
the unbroken model passes all of them."""

from __future__ import annotations

import pytest
import torch
from mmh_heads import MultiHeadMACE
from mmh_heads import testing as kit

STRUCTURES = [kit.triclinic(1, head="base"), kit.molecule(2, head="new")]
PERIODIC, MOLECULE = STRUCTURES


class _Broken(MultiHeadMACE):
    """A tiny model whose outputs are edited after the fact by `edit`."""

    def edit(self, out, positions, batch, num_graphs):
        return out

    def compute(self, positions, atomic_numbers, edge_index, unit_shifts, cell, batch, head, **kw):
        out = super().compute(
            positions, atomic_numbers, edge_index, unit_shifts, cell, batch, head, **kw
        )
        return self.edit(dict(out), positions.detach(), batch, cell.shape[0])


def _broken(cls) -> MultiHeadMACE:
    good = kit.tiny_model()
    model = cls(good.config, dtype=torch.float64)
    model.load_state_dict(good.state_dict())
    return model


class ScaledForces(_Broken):
    def edit(self, out, positions, batch, num_graphs):
        if "forces" in out:
            out["forces"] = out["forces"] * 1.01
        return out


class FlippedStress(_Broken):
    def edit(self, out, positions, batch, num_graphs):
        if "stress" in out:
            out["stress"] = -out["stress"]
        return out


class AxisDependent(_Broken):
    """An energy that depends on the orientation of the edges (not rotation-invariant)."""

    def node_energies(self, atomic_numbers, edge_vectors, edge_index, node_head):
        e = super().node_energies(atomic_numbers, edge_vectors, edge_index, node_head)
        return e.index_add(0, edge_index[1], 0.01 * edge_vectors[:, 0] ** 2)


class ExternalField(_Broken):
    """A uniform field on every atom: forces stay consistent, translations change E."""

    def edit(self, out, positions, batch, num_graphs):
        field = torch.zeros(num_graphs, dtype=positions.dtype).index_add(
            0, batch, 0.05 * positions[:, 0]
        )
        out["energy"] = out["energy"] + field
        if "forces" in out:
            out["forces"] = out["forces"] - torch.tensor([0.05, 0.0, 0.0], dtype=positions.dtype)
        return out


class OrderDependent(_Broken):
    def edit(self, out, positions, batch, num_graphs):
        weights = 1e-3 * torch.arange(len(batch), dtype=positions.dtype)
        extra = torch.zeros(num_graphs, dtype=positions.dtype).index_add(
            0, batch, weights * positions[:, 1]
        )
        out["energy"] = out["energy"] + extra
        return out


class PerGraphOffset(_Broken):
    """A constant per structure instead of per atom: not extensive."""

    def edit(self, out, positions, batch, num_graphs):
        out["energy"] = out["energy"] + 0.5
        return out


class LongRange(_Broken):
    """A 1/r pair energy without a cutoff: a far atom moves the others."""

    def edit(self, out, positions, batch, num_graphs):
        energy = out["energy"].clone()
        for g in range(num_graphs):
            pos = positions[batch == g]
            d = torch.cdist(pos, pos)
            energy[g] = energy[g] + 1e-2 * torch.triu(1 / (d + torch.eye(len(pos))), 1).sum()
        out["energy"] = energy
        if "forces" in out:
            out["forces"] = out["forces"] + 1e-3 * positions.mean(0)
        return out


class CountsNeighbours(_Broken):
    """An energy per neighbour: jumps when an atom crosses r_max."""

    def node_energies(self, atomic_numbers, edge_vectors, edge_index, node_head):
        e = super().node_energies(atomic_numbers, edge_vectors, edge_index, node_head)
        return e.index_add(0, edge_index[1], torch.full_like(edge_vectors[:, 0], 0.01))


class BatchSizeDependent(_Broken):
    def edit(self, out, positions, batch, num_graphs):
        out["energy"] = out["energy"] * (1 + 0.01 * (num_graphs - 1))
        return out


class LeakingHeads(_Broken):
    """Every head reads the last head's readout weights."""

    def node_energies(self, atomic_numbers, edge_vectors, edge_index, node_head):
        e = super().node_energies(atomic_numbers, edge_vectors, edge_index, node_head)
        return e + 1e-3 * self.readouts[-1].linear.sum()


class Float32Offset(_Broken):
    def edit(self, out, positions, batch, num_graphs):
        if positions.dtype == torch.float32:
            out["energy"] = out["energy"] + 0.02
        return out


class UnsavedOffset(_Broken):
    """State that the model file does not hold."""

    def edit(self, out, positions, batch, num_graphs):
        out["energy"] = out["energy"] + 0.25
        return out


BROKEN = {
    "forces": (ScaledForces, lambda m: kit.check_forces_finite_differences(m, PERIODIC)),
    "stress": (FlippedStress, lambda m: kit.check_stress_finite_strain(m, PERIODIC)),
    "o3": (AxisDependent, lambda m: kit.check_o3_equivariance(m, PERIODIC)),
    "translation": (ExternalField, lambda m: kit.check_translation_invariance(m, MOLECULE)),
    "permutation": (OrderDependent, lambda m: kit.check_permutation_equivariance(m, MOLECULE)),
    "extensivity": (PerGraphOffset, lambda m: kit.check_extensivity(m, MOLECULE)),
    "locality": (LongRange, lambda m: kit.check_locality(m, MOLECULE)),
    "smoothness": (CountsNeighbours, lambda m: kit.check_cutoff_smoothness(m, "base")),
    "batching": (BatchSizeDependent, lambda m: kit.check_batch_consistency(m, STRUCTURES)),
    "heads": (LeakingHeads, lambda m: kit.check_head_independence(m, MOLECULE, changed="new")),
    "dtype": (Float32Offset, lambda m: kit.check_dtype_agreement(m, STRUCTURES)),
    "save/load": (UnsavedOffset, lambda m: kit.check_save_load_round_trip(m, STRUCTURES)),
}


@pytest.mark.parametrize("prop", sorted(BROKEN))
def test_each_broken_model_fails_its_check(prop):
    cls, check = BROKEN[prop]
    with pytest.raises(AssertionError):
        check(_broken(cls))


@pytest.mark.parametrize("prop", sorted(BROKEN))
def test_the_unbroken_model_passes_every_check(prop):
    _, check = BROKEN[prop]
    check(_broken(_Broken))


def test_the_checks_are_independent_of_the_random_state():
    """A check is deterministic: the same model and structures fail or pass the same way."""
    torch.manual_seed(123)
    kit.check_o3_equivariance(kit.tiny_model(), PERIODIC, seed=7)
    with pytest.raises(AssertionError, match="not O\\(3\\)-equivariant"):
        kit.check_o3_equivariance(_broken(AxisDependent), PERIODIC, seed=7)
