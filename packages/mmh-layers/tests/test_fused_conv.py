"""The native fused convolution against the e3nn reference path it replaces on the CPU."""

import copy
import warnings

import pytest
import torch
from e3nn import o3
from layers_kit import FAMILIES
from mmh_layers import BackboneConfig, MACEBackbone, _native, _ops
from mmh_layers._fused_conv import FusedConvolution, coupling_paths
from mmh_layers._irreps import conv_irreps_and_instructions
from mmh_layers.testing import radius_graph

pytestmark = pytest.mark.skipif(
    not _native.native_available(),
    reason=f"native kernels unavailable: {_native.native_build_error()}",
)

TOL = {torch.float32: 1e-5, torch.float64: 1e-12}


def _product(channels, node="0e+1o", max_ell=3, target_l=3, dtype=torch.float64):
    irreps = o3.Irreps("+".join(f"{channels}x{ir}" for ir in node.split("+")))
    sh = o3.Irreps.spherical_harmonics(max_ell)
    target = o3.Irreps([(channels, (l, (-1) ** l)) for l in range(target_l + 1)])
    mid, instructions = conv_irreps_and_instructions(irreps, sh, target)
    return _ops.conv_tensor_product(irreps, sh, mid, instructions).to(dtype)


def _operands(tp, num_nodes, num_edges, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(num_nodes, tp.irreps_in1.dim, generator=g, dtype=dtype)
    sh = torch.randn(num_edges, tp.irreps_in2.dim, generator=g, dtype=dtype)
    w = torch.randn(num_edges, tp.weight_numel, generator=g, dtype=dtype)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    return h, sh, w, edge_index


def _reference(tp, h, sh, w, edge_index):
    return _ops.scatter_sum(tp(h[edge_index[0]], sh, w), edge_index[1], h.shape[0])


def _rel(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max())


def test_paths_of_the_benchmark_product():
    """The 128x0e+128x1o ⊗ Y(l<=3) product of MACE layer 2 has 86 coupling paths, as in
    cuequivariance's channel-wise descriptor; layer 1 (0e input) has 16."""
    assert coupling_paths(_product(4))[0].shape == (86, 4)
    assert coupling_paths(_product(4, node="0e"))[0].shape == (16, 4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("node", ["0e", "0e+1o", "0e+1o+2e"])
def test_forward_matches_e3nn(dtype, node):
    tp = _product(5, node=node, max_ell=2 if "2e" in node else 3, target_l=2, dtype=dtype)
    fused = FusedConvolution(tp)
    h, sh, w, edge_index = _operands(tp, 9, 60, dtype)
    assert _rel(fused(h, sh, w, edge_index), _reference(tp, h, sh, w, edge_index)) < TOL[dtype]


def test_gradcheck_and_gradgradcheck():
    tp = _product(3, target_l=2)
    fused = FusedConvolution(tp)
    h, sh, w, edge_index = _operands(tp, 5, 14, torch.float64, seed=1)
    inputs = tuple(t.requires_grad_() for t in (h, sh, w))

    def fn(h, sh, w):
        return fused(h, sh, w, edge_index)

    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)


def test_no_edges_and_isolated_nodes():
    tp = _product(4)
    fused = FusedConvolution(tp)
    h, sh, w, _ = _operands(tp, 6, 0, torch.float64)
    out = fused(h, sh, w, torch.zeros(2, 0, dtype=torch.long))
    assert out.shape == (6, tp.irreps_out.dim) and not out.any()
    h, sh, w, _ = _operands(tp, 6, 3, torch.float64)
    edge_index = torch.tensor([[0, 1, 0], [1, 0, 1]])  # nodes 2..5 have no neighbours
    out = fused(h, sh, w, edge_index)
    assert not out[2:].any()
    assert _rel(out, _reference(tp, h, sh, w, edge_index)) < 1e-12


def test_bad_index_is_an_error_not_a_crash():
    tp = _product(2)
    fused = FusedConvolution(tp)
    h, sh, w, _ = _operands(tp, 3, 2, torch.float64)
    with pytest.raises(RuntimeError, match="receiver index 7 of edge 1"):
        fused(h, sh, w, torch.tensor([[0, 1], [1, 7]]))


def _backbone(family, dtype):
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        blocks = FAMILIES[family]
        cfg = BackboneConfig(
            elements=(1, 6, 8),
            channels=8,
            max_L=1,
            max_ell=3,
            edge_channels=6,
            r_max=4.0,
            distance_transform="agnesi" if blocks["block"] == "nonlinear" else None,
            avg_num_neighbors=8.0,
            **blocks,
        )
        model = MACEBackbone(cfg)
    finally:
        torch.set_default_dtype(previous)
    # non-zero parameters everywhere (the density weights start at zero)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.to(dtype)


def _energy_forces_virial_and_param_grads(model, dtype):
    g = torch.Generator().manual_seed(5)
    pos = (1.5 * torch.randn(12, 3, generator=g, dtype=torch.float64)).to(dtype)
    pos.requires_grad_(True)
    z = torch.tensor([1, 6, 8, 1, 6, 8, 1, 1, 8, 6, 1, 8])
    edge_index, vectors = radius_graph(pos, 4.0)
    energy = sum(f.sum() for f in model(z, vectors, edge_index))
    grad_pos, grad_vec = torch.autograd.grad(energy, (pos, vectors), create_graph=True)
    virial = vectors.T @ grad_vec
    loss = (grad_pos**2).sum() + energy**2 + (virial**2).sum()
    params = [p for p in model.parameters() if p.requires_grad]
    param_grads = torch.autograd.grad(loss, params, allow_unused=True)
    flat = torch.cat(
        [
            (p if p is not None else torch.zeros_like(q)).flatten()
            for p, q in zip(param_grads, params, strict=True)
        ]
    )
    return energy.detach(), grad_pos.detach(), virial.detach(), flat


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("family", ["mh1", "mp0a", "mp0b", "mpa", "mpa_envelope_after_mlp"])
def test_backbone_matches_e3nn_path(family, dtype):
    """Energies, forces, the virial (stress) and the parameter gradients of a force + stress
    loss: fused against the e3nn path, for every block."""
    model = _backbone(family, dtype)
    assert all(layer.fused_conv is not None for layer in model.interactions), (
        "the fused path must apply to every block"
    )
    with _native.use_native(True):
        fused = _energy_forces_virial_and_param_grads(model, dtype)
    with _native.use_native(False):
        ref = _energy_forces_virial_and_param_grads(copy.deepcopy(model), dtype)
    for name, a, b in zip(("energy", "forces", "virial", "param grads"), fused, ref, strict=True):
        assert _rel(a, b) < TOL[dtype], name


def test_env_switch_and_build_failure(monkeypatch):
    """MMH_NATIVE=0 selects the e3nn path; a failed build warns once and falls back."""
    monkeypatch.setitem(_native._state, "enabled", None)
    monkeypatch.setenv("MMH_NATIVE", "0")
    assert not _native.native_enabled()
    monkeypatch.setenv("MMH_NATIVE", "1")
    assert _native.native_enabled()

    def broken_build():
        raise OSError("no C++ compiler found")

    monkeypatch.setattr(_native, "_build", broken_build)
    monkeypatch.setitem(_native._state, "loaded", None)
    monkeypatch.setitem(_native._state, "error", None)
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler found"):
        assert not _native.native_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not _native.native_available()  # said once, not again
    model = _backbone("mh1", torch.float64)
    z = torch.tensor([1, 8, 8])
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [0, 1.2, 0.3]], dtype=torch.float64)
    edge_index, vectors = radius_graph(pos, 4.0)
    out = model(z, vectors, edge_index)
    monkeypatch.setitem(_native._state, "loaded", True)
    with _native.use_native(True):
        fused = model(z, vectors, edge_index)
    for a, b in zip(out, fused, strict=True):
        assert _rel(b, a) < 1e-12


def test_same_bits_for_any_number_of_threads():
    """Each receiver (forward) and each sender (backward) is summed by one thread in edge
    order, so the results do not depend on the thread count."""
    tp = _product(16, target_l=3, dtype=torch.float32)
    fused = FusedConvolution(tp)
    h, sh, w, edge_index = _operands(tp, 40, 900, torch.float32, seed=3)
    results = []
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            inputs = [t.clone().requires_grad_() for t in (h, sh, w)]
            out = fused(*inputs, edge_index)
            grads = torch.autograd.grad((out**2).sum(), inputs)
            results.append((out.detach(), *grads))
    finally:
        torch.set_num_threads(previous)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert torch.equal(a, b)
