"""The physics battery of `mmh_heads.testing` on every block, backend and head set, plus the
model's output contract."""

import importlib.util

import pytest
import torch
from mmh_heads.testing import ModelTests, batch_of, molecule, tiny_model, triclinic

#: the cueq backend is checked against e3nn where cuequivariance is installed
OTHER_BACKENDS = ("cueq",) if importlib.util.find_spec("cuequivariance_torch") else ()


class _Structures:
    @pytest.fixture
    def structures(self):
        return [
            triclinic(1, head="base"),
            molecule(2, head="new"),
            triclinic(3, head="new", numbers=(8, 8, 6, 1, 1)),
        ]


class TestNonLinearBlock(_Structures, ModelTests):
    backends = OTHER_BACKENDS

    @pytest.fixture
    def model(self):
        return tiny_model(block="nonlinear", distance_transform="agnesi")


class TestLinearBlock(_Structures, ModelTests):
    backends = OTHER_BACKENDS

    @pytest.fixture
    def model(self):
        return tiny_model(block="linear", agnostic_product=False, avg_num_neighbors=4.0)


class TestLinearNonResidualFirstLayer(_Structures, ModelTests):
    @pytest.fixture
    def model(self):
        return tiny_model(block="linear", first_block="linear_nonresidual", correlation=3)


class TestDensityBlock(_Structures, ModelTests):
    @pytest.fixture
    def model(self):
        return tiny_model(block="density", first_block="density_nonresidual")


class TestThreeHeadsWithoutZBL(_Structures, ModelTests):
    @pytest.fixture
    def model(self):
        return tiny_model(heads=("base", "new", "third"), zbl=False, max_L=2, max_ell=3)


def test_outputs_and_dtypes(dtype):
    model = tiny_model(dtype=dtype)
    batch = batch_of([triclinic(head="base"), molecule(head="new")], dtype=dtype)
    out = model(batch)
    assert out["energy"].shape == (2,) and out["energy"].dtype == dtype
    assert out["node_energy"].shape == (9,)
    assert out["forces"].shape == (9, 3)
    assert out["stress"].shape == (2, 3, 3) and out["virials"].shape == (2, 3, 3)
    # no cell: no stress
    assert torch.all(out["stress"][1] == 0)
    assert torch.allclose(
        out["energy"], torch.stack([out["node_energy"][:4].sum(), out["node_energy"][4:].sum()])
    )


def test_create_graph_allows_force_loss():
    model = tiny_model()
    batch = batch_of([triclinic()])
    out = model(batch, create_graph=True)
    loss = (out["forces"] ** 2).sum() + (out["stress"] ** 2).sum()
    loss.backward()
    grads = [p.grad for p in model.readouts[0].parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
