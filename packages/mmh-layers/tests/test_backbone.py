"""The backbone: symmetries, smoothness at the cutoff, reference parameter counts, errors.

The physics tests run over ``FAMILIES``: the block combinations of the MACE foundation models
(first layer and later layers) and both envelope placements.
"""

import pytest
import torch
from layers_kit import COUNTS_FILE, FAMILIES, config_from_mace, reference_counts
from mmh_layers import BackboneConfig, BackendUnavailableError, MACEBackbone
from mmh_layers.testing import (
    assert_o3_equivariant,
    assert_permutation_equivariant,
    assert_translation_invariant,
    radius_graph,
)


def _small(family, **kw):
    blocks = FAMILIES[family]
    defaults = dict(
        elements=(1, 6, 8),
        channels=8,
        max_L=2,
        edge_channels=4,
        r_max=3.5,
        distance_transform="agnesi" if blocks["block"] == "nonlinear" else None,
        avg_num_neighbors=8.0,  # about the test systems' (used by the linear blocks only)
        **blocks,
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


@pytest.mark.parametrize("family", FAMILIES)
def test_o3_equivariance(dtype, family):
    model = _small(family)
    pos, z = _system(dtype)
    kinds = {f"layer{i}": str(ir) for i, ir in enumerate(model.irreps_out)}
    kinds["energy"] = "scalar"
    assert_o3_equivariant(_as_fn(model), pos, z, kinds)


@pytest.mark.parametrize("family", FAMILIES)
def test_periodic_equivariance_translation_and_permutation(dtype, family):
    model = _small(family, max_L=1)
    pos, z = _system(dtype, n=6, spread=1.0)
    cell = torch.tensor([[3.2, 0.0, 0.0], [0.4, 3.0, 0.0], [0.3, -0.2, 3.4]], dtype=dtype)
    kinds = {"layer0": str(model.irreps_out[0]), "energy": "scalar"}
    fn = _as_fn(model)
    assert_o3_equivariant(fn, pos, z, kinds, cell, trials=1)
    assert_translation_invariant(fn, pos, z, kinds, cell)
    assert_permutation_equivariant(fn, pos, z, {"layer0": True, "layer1": True, "energy": False})


@pytest.mark.parametrize("family", FAMILIES)
def test_smooth_at_cutoff(family):
    """Energy and its derivative go to zero as a neighbour leaves the cutoff."""
    torch.set_default_dtype(torch.float64)
    try:
        model = _small(family, max_L=1)
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


COUNTS = reference_counts() if COUNTS_FILE.exists() else {}
COUNT_CASES = [(name, key) for name, models in COUNTS.items() for key in models]


@pytest.mark.skipif(not COUNTS, reason=f"{COUNTS_FILE} is not in this checkout")
@pytest.mark.parametrize(("name", "key"), COUNT_CASES, ids=[f"{n}-{k}" for n, k in COUNT_CASES])
def test_parameter_count_matches_reference(name, key):
    """Every configuration of benchmarks/reference/counts.json: mace-torch 0.3.16's backbone
    (total minus the one-head readouts) has as many parameters as ours, module by module."""
    answer = COUNTS[name][key]
    config = BackboneConfig(**config_from_mace(answer["constructor"]))
    assert config.blocks[0] == (answer["block_first"] or answer["block"])
    model = MACEBackbone(config)

    def numel(module):
        return sum(p.numel() for p in module.parameters())

    modules = answer["modules"]
    ours = {"node_embedding": numel(model.node_embedding)}
    for i, (inter, prod) in enumerate(zip(model.interactions, model.products, strict=True)):
        ours[f"interactions.{i}"] = numel(inter)
        ours[f"products.{i}"] = numel(prod)
    assert ours == {k: modules[k]["total"] for k in ours}
    assert numel(model) == answer["backbone"]


@pytest.mark.skipif(not COUNTS, reason=f"{COUNTS_FILE} is not in this checkout")
def test_reference_counts_match_the_notes():
    """The stored MACE-MH-1 totals are the published ones (6,395,798 and 48,807,184 at L=1)."""
    expected = {"mh1_L1/nonlinear": 6_395_798, "mh1_L1/linear": 48_807_184}
    for entry, total in expected.items():
        name, key = entry.split("/")
        assert COUNTS[name][key]["total"] == total


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_of_two_equals_two_singles(family):
    torch.set_default_dtype(torch.float64)
    try:
        model = _small(family, max_L=1)
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
    model = _small("mh1", max_L=1)
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
    with pytest.raises(ValueError, match=r"unknown interaction block 'attention'.*density"):
        BackboneConfig(elements=(1,), first_block="attention")
    with pytest.raises(TypeError, match="envelope_after_mlp"):
        BackboneConfig(elements=(1,), envelope_after_mlp="yes")
    with pytest.raises(ValueError, match="unknown backend"):
        MACEBackbone(BackboneConfig(elements=(1,), backend="jax"))


def test_new_fields_keep_old_configs_as_they_were():
    """A saved config without ``first_block``/``envelope_after_mlp`` reads back as before, and
    a config that leaves them unset writes the same dictionary as before they existed."""
    cfg = BackboneConfig(elements=(1, 8), block="linear")
    old = cfg.to_dict()
    assert "first_block" not in old and "envelope_after_mlp" not in old
    assert BackboneConfig.from_dict(old) == cfg
    assert cfg.blocks == ("linear", "linear")
    new = BackboneConfig(
        elements=(1, 8),
        block="density",
        first_block="density_nonresidual",
        envelope_after_mlp=True,
        num_interactions=3,
    )
    assert new.to_dict()["first_block"] == "density_nonresidual"
    assert BackboneConfig.from_dict(new.to_dict()) == new
    assert new.blocks == ("density_nonresidual", "density", "density")


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ({"block": "nonlinear"}, True),  # the class defaults of today
        ({"block": "linear"}, False),
        ({"block": "density", "first_block": "density_nonresidual"}, False),
        ({"block": "linear", "first_block": "nonlinear"}, False),  # the default of ``block``
        ({"block": "nonlinear", "envelope_after_mlp": False}, False),
        ({"block": "linear", "envelope_after_mlp": True}, True),
    ],
)
def test_envelope_placement_follows_the_config(blocks, expected):
    model = MACEBackbone(BackboneConfig(elements=(1, 8), channels=4, max_L=1, **blocks))
    assert model.envelope_after_mlp is expected
    vec = torch.tensor([[1.0, 0.5, 0.2], [-1.0, -0.5, -0.2]])
    edge_index = torch.tensor([[0, 1], [1, 0]])
    _, radial, cutoff = model.edge_embedding(torch.tensor([1, 8]), vec, edge_index)
    assert (cutoff is not None) is expected
    bessel = model.radial_basis(torch.linalg.vector_norm(vec, dim=-1, keepdim=True))
    envelope = model.envelope(torch.linalg.vector_norm(vec, dim=-1, keepdim=True))
    torch.testing.assert_close(radial, bessel if expected else bessel * envelope)


@pytest.mark.parametrize("family", ["mp0b", "mpa"])
def test_non_residual_first_layer_has_no_self_connection(family):
    """The non-residual first block returns no skip and maps its message with ``skip_tp``
    (target irreps to target irreps); the later layers keep their self-connection."""
    model = _small(family, max_L=1)
    pos, z = _system(torch.float32, n=5)
    edge_index, vectors = radius_graph(pos, model.config.r_max)
    species = model.species(z)
    sh, radial, cutoff = model.edge_embedding(z, vectors, edge_index)
    h = model.node_embedding(species)
    first, second = model.interactions
    basis, skip = first(h, species, sh, radial, cutoff, edge_index)
    assert skip is None
    assert first.skip_tp.irreps_in == first.skip_tp.irreps_out == first.irreps_target
    h1 = model.products[0](basis, skip, species)
    _, skip1 = second(h1, species, sh, radial, cutoff, edge_index)
    assert skip1 is not None and skip1.shape == (5, model.irreps_out[1].dim)


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
