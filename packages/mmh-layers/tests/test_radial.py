"""Radial basis, envelope, Agnesi transform and ZBL."""

import math

import pytest
import torch
from mmh_layers import AgnesiTransform, BesselBasis, PolynomialEnvelope, ZBLRepulsion


def test_bessel_matches_formula(dtype):
    r = torch.linspace(0.3, 4.9, 17).unsqueeze(-1)
    basis = BesselBasis(r_max=5.0, num_basis=6)
    n = torch.arange(1, 7)
    expected = math.sqrt(2 / 5.0) * torch.sin(n * math.pi * r / 5.0) / r
    torch.testing.assert_close(basis(r), expected)


@pytest.mark.parametrize("p", [3, 5, 6])
def test_envelope_value_and_derivatives_vanish_at_cutoff(p):
    env = PolynomialEnvelope(r_max=4.0, p=p)
    r = torch.tensor([[4.0 - 1e-6]], dtype=torch.float64, requires_grad=True)
    f = env(r)
    (d1,) = torch.autograd.grad(f.sum(), r, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), r)
    assert abs(float(f)) < 1e-10 and abs(float(d1)) < 1e-8 and abs(float(d2)) < 1e-4
    assert float(env(torch.tensor([[0.0]], dtype=torch.float64))) == pytest.approx(1.0)
    assert float(env(torch.tensor([[4.5]], dtype=torch.float64))) == 0.0


def test_agnesi_limits_and_monotonic():
    t = AgnesiTransform().double()
    r = torch.linspace(1e-3, 8.0, 200, dtype=torch.float64).unsqueeze(-1)
    z = torch.tensor([6, 8])
    edge_index = torch.zeros(2, 200, dtype=torch.long)
    edge_index[1] = 1
    y = t(r, z, edge_index).squeeze(-1)
    assert float(y[0]) == pytest.approx(1.0, abs=1e-2)
    assert float(y[-1]) < 0.1
    assert bool((y[1:] <= y[:-1]).all())


def test_zbl_pair_energy_and_cutoff():
    zbl = ZBLRepulsion(p=5).double()
    z = torch.tensor([1, 8])
    edge_index = torch.tensor([[0, 1], [1, 0]])
    r_close = torch.tensor([[0.3], [0.3]], dtype=torch.float64)
    e = zbl(r_close, z, edge_index)
    assert float(e.sum()) > 1.0  # strongly repulsive at 0.3 Å
    assert float(e[0]) == pytest.approx(float(e[1]))  # split evenly over the pair
    far = torch.full((2, 1), 5.0, dtype=torch.float64)
    assert float(zbl(far, z, edge_index).abs().sum()) == 0.0


def test_covalent_radii_table_matches_ase():
    ase_data = pytest.importorskip("ase.data")
    from mmh_layers._covalent_radii import COVALENT_RADII

    assert len(COVALENT_RADII) == len(ase_data.covalent_radii)
    pairs = zip(COVALENT_RADII, ase_data.covalent_radii, strict=True)
    assert max(abs(a - b) for a, b in pairs) < 1e-9
