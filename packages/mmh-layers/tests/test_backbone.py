"""The backbone: symmetries, smoothness at the cutoff, reference parameter counts, errors."""

import pytest
import torch
from mmh_layers import BackboneConfig, BackendUnavailableError, MACEBackbone
from mmh_layers.testing import (
    assert_o3_equivariant,
    assert_permutation_equivariant,
    assert_translation_invariant,
    radius_graph,
)

# the element table of MACE-MH-1: Z = 1..83 and 89..94
MH1_ELEMENTS = (*range(1, 84), *range(89, 95))
# one-head readouts of the reference model (512 linear on layer 1, 512*16 + 16 on the last)
REFERENCE_READOUT_PARAMS = 512 + 512 * 16 + 16


def _small(block, **kw):
    defaults = dict(
        elements=(1, 6, 8),
        block=block,
        channels=8,
        max_L=2,
        edge_channels=4,
        r_max=3.5,
        distance_transform="agnesi" if block == "nonlinear" else None,
    )
    defaults.update(kw)
    return MACEBackbone(BackboneConfig(**defaults))


def _system(dtype, n=8, seed=0, spread=1.4):
    g = torch.Generator().manual_seed(seed)
    pos = (spread * torch.randn(n, 3, generator=g)).to(dtype)
    z = torch.tensor([1, 6, 8, 1, 6, 8, 1, 8, 6, 1][:n])
    return pos, z


def _as_fn(model):
    def fn(pos, z, cell):
        edge_index, vectors = radius_graph(pos, model.config.r_max, cell)
        feats = model(z, vectors, edge_index)
        out = {f"layer{i}": f for i, f in enumerate(feats)}
        out["energy"] = feats[-1].sum()
        return out

    return fn


@pytest.mark.parametrize("block", ["nonlinear", "linear"])
def test_o3_equivariance(dtype, block):
    model = _small(block)
    pos, z = _system(dtype)
    kinds = {f"layer{i}": str(ir) for i, ir in enumerate(model.irreps_out)}
    kinds["energy"] = "scalar"
    assert_o3_equivariant(_as_fn(model), pos, z, kinds)


@pytest.mark.parametrize("block", ["nonlinear", "linear"])
def test_periodic_equivariance_translation_and_permutation(dtype, block):
    model = _small(block, max_L=1)
    pos, z = _system(dtype, n=6, spread=1.0)
    cell = torch.tensor([[3.2, 0.0, 0.0], [0.4, 3.0, 0.0], [0.3, -0.2, 3.4]], dtype=dtype)
    kinds = {"layer0": str(model.irreps_out[0]), "energy": "scalar"}
    fn = _as_fn(model)
    assert_o3_equivariant(fn, pos, z, kinds, cell, trials=1)
    assert_translation_invariant(fn, pos, z, kinds, cell)
    assert_permutation_equivariant(fn, pos, z, {"layer0": True, "layer1": True, "energy": False})


@pytest.mark.parametrize("block", ["nonlinear", "linear"])
def test_smooth_at_cutoff(block):
    """Energy and its derivative go to zero as a neighbour leaves the cutoff."""
    torch.set_default_dtype(torch.float64)
    try:
        model = _small(block, max_L=1)
        z = torch.tensor([6, 8])
        r_max = model.config.r_max

        def energy_and_force(r):
            x = torch.tensor([r], requires_grad=True)
            vec = torch.stack([x, torch.zeros(1), torch.zeros(1)], -1).reshape(1, 3)
            vectors = torch.cat([vec, -vec])
            edge_index = torch.tensor([[0, 1], [1, 0]])
            isolated = model(z, torch.zeros(0, 3), torch.zeros(2, 0, dtype=torch.long))[-1]
            e = (model(z, vectors, edge_index)[-1] - isolated).sum()
            (f,) = torch.autograd.grad(e, x)
            return float(e.detach()), float(f)

        e_near, f_near = energy_and_force(r_max - 1e-4)
        e_mid, _ = energy_and_force(r_max - 0.5)
        assert abs(e_near) < 1e-9 * max(1.0, abs(e_mid)) + 1e-12
        assert abs(f_near) < 1e-6
        assert energy_and_force(r_max + 0.1) == (0.0, 0.0)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize(
    ("block", "expected"),
    [("nonlinear", 6_395_798), ("linear", 48_807_184)],
)
def test_parameter_count_matches_reference(block, expected):
    """The reference notes' settings (89 elements, 512x0e+512x1o, edge 128, 10 Bessel,
    2 interactions, correlation 3, agnostic product): mace-torch 0.3.16 counts ``expected``
    parameters with one head; the backbone is that minus the reference readouts."""
    cfg = BackboneConfig(
        elements=MH1_ELEMENTS,
        block=block,
        channels=512,
        max_L=1,
        edge_channels=128,
        num_bessel=10,
        r_max=6.0,
        distance_transform="agnesi",
        agnostic_product=True,
    )
    model = MACEBackbone(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params + REFERENCE_READOUT_PARAMS == expected


def test_batch_of_two_equals_two_singles():
    torch.set_default_dtype(torch.float64)
    try:
        model = _small("nonlinear", max_L=1)
        pos_a, z_a = _system(torch.float64, n=5, seed=1)
        pos_b, z_b = _system(torch.float64, n=6, seed=2)
        ei_a, v_a = radius_graph(pos_a, 3.5)
        ei_b, v_b = radius_graph(pos_b, 3.5)
        out_a = model(z_a, v_a, ei_a)[-1]
        out_b = model(z_b, v_b, ei_b)[-1]
        joint = model(torch.cat([z_a, z_b]), torch.cat([v_a, v_b]), torch.cat([ei_a, ei_b + 5], 1))
        torch.testing.assert_close(joint[-1], torch.cat([out_a, out_b]))
    finally:
        torch.set_default_dtype(torch.float32)


def test_unknown_element_is_an_error():
    model = _small("nonlinear", max_L=1)
    with pytest.raises(ValueError, match=r"\[26\].*element table"):
        model(torch.tensor([1, 26]), torch.zeros(0, 3), torch.zeros(2, 0, dtype=torch.long))


def test_config_validation_and_round_trip():
    cfg = BackboneConfig(elements=(1, 8), correlation=(3, 2), block="linear")
    assert BackboneConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown backbone hyper-parameter"):
        BackboneConfig.from_dict({**cfg.to_dict(), "hidden": 3})
    with pytest.raises(ValueError, match="correlation"):
        BackboneConfig(elements=(1,), correlation=(3, 3, 3))
    with pytest.raises(ValueError, match="unknown interaction block"):
        MACEBackbone(BackboneConfig(elements=(1,), block="attention"))
    with pytest.raises(ValueError, match="unknown backend"):
        MACEBackbone(BackboneConfig(elements=(1,), backend="jax"))


def test_missing_backend_fails_loudly(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "cuequivariance_torch" else real(name, *a),
    )
    with pytest.raises(BackendUnavailableError, match="pip install"):
        MACEBackbone(BackboneConfig(elements=(1,), backend="cueq"))
