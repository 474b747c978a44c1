"""e3nn and cuequivariance backends: same numbers, same parameters, lossless conversion."""

import copy

import pytest
import torch
from layers_kit import FAMILIES, FOUNDATION_FAMILIES
from mmh_layers import BackboneConfig, MACEBackbone
from mmh_layers.testing import radius_graph

pytest.importorskip("cuequivariance_torch")


def _graph(dtype):
    g = torch.Generator().manual_seed(3)
    pos = (1.6 * torch.randn(10, 3, generator=g)).to(dtype)
    z = torch.tensor([1, 6, 8, 1, 6, 8, 1, 1, 8, 6])
    edge_index, vectors = radius_graph(pos, 4.0)
    return z, vectors, edge_index


@pytest.fixture(scope="module", params=FOUNDATION_FAMILIES)
def pair(request):
    """Both backends built in float64 (so their constants are exact), cast per test."""
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    blocks = FAMILIES[request.param]
    cfg = BackboneConfig(
        elements=(1, 6, 8),
        channels=8,
        max_L=1,
        max_ell=2,
        edge_channels=4,
        r_max=4.0,
        distance_transform="agnesi" if blocks["block"] == "nonlinear" else None,
        avg_num_neighbors=8.0,
        **blocks,
    )
    e3nn_model = MACEBackbone(cfg)
    cue_model = e3nn_model.to_backend("cueq")
    torch.set_default_dtype(previous)
    return e3nn_model, cue_model


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_backends_agree(pair, dtype):
    ref, cue = (copy.deepcopy(m).to(dtype) for m in pair)  # .to() works in place
    z, vectors, edge_index = _graph(dtype)
    tol = {torch.float32: 1e-5, torch.float64: 1e-12}[dtype]
    for a, b in zip(ref(z, vectors, edge_index), cue(z, vectors, edge_index), strict=True):
        assert float((a - b).abs().max() / a.abs().max()) < tol


def test_same_parameters_and_round_trip(pair):
    ref, cue = pair
    assert {n: p.shape for n, p in ref.named_parameters()} == {
        n: p.shape for n, p in cue.named_parameters()
    }
    back = cue.to_backend("e3nn")
    for (n, p), (_, q) in zip(ref.named_parameters(), back.named_parameters(), strict=True):
        assert torch.equal(p, q), n
    z, vectors, edge_index = _graph(torch.float64)
    for a, b in zip(ref(z, vectors, edge_index), back(z, vectors, edge_index), strict=True):
        assert torch.equal(a, b)


def test_forces_agree():
    """Gradients with respect to positions agree too (what forces are made of)."""
    torch.manual_seed(1)
    torch.set_default_dtype(torch.float64)
    try:
        cfg = BackboneConfig(elements=(1, 8), channels=4, max_L=1, max_ell=2, r_max=3.5)
        ref = MACEBackbone(cfg)
        cue = ref.to_backend("cueq")
    finally:
        torch.set_default_dtype(torch.float32)
    z = torch.tensor([8, 1, 1, 8, 1, 1])
    pos = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    grads = []
    for model in (ref, cue):
        edge_index, vectors = radius_graph(pos, 3.5)
        energy = model(z, vectors, edge_index)[-1].sum()
        grads.append(torch.autograd.grad(energy, pos)[0])
    torch.testing.assert_close(grads[0], grads[1], atol=1e-12, rtol=1e-10)


@pytest.mark.slow
def test_backends_agree_at_max_ell_3():
    cfg = BackboneConfig(elements=(1, 6, 8), channels=8, max_L=2, max_ell=3, r_max=4.0)
    ref = MACEBackbone(cfg)
    cue = ref.to_backend("cueq")
    z, vectors, edge_index = _graph(torch.float32)
    for a, b in zip(ref(z, vectors, edge_index), cue(z, vectors, edge_index), strict=True):
        assert float((a - b).abs().max() / a.abs().max()) < 1e-5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_kernels_match_e3nn():
    """The CUDA kernels of cuequivariance agree with the e3nn reference on the GPU."""
    torch.manual_seed(0)
    cfg = BackboneConfig(elements=(1, 6, 8), channels=32, max_L=1, max_ell=3, r_max=4.0)
    ref = MACEBackbone(cfg).cuda()
    cue = ref.to_backend("cueq")
    z, vectors, edge_index = _graph(torch.float32)
    z, vectors, edge_index = z.cuda(), vectors.cuda(), edge_index.cuda()
    vectors.requires_grad_(True)
    out_ref = ref(z, vectors, edge_index)
    (g_ref,) = torch.autograd.grad(out_ref[-1].sum(), vectors)
    out_cue = cue(z, vectors, edge_index)
    (g_cue,) = torch.autograd.grad(out_cue[-1].sum(), vectors)
    for a, b in zip(out_ref, out_cue, strict=True):
        assert float((a - b).abs().max() / a.abs().max()) < 1e-5
    assert float((g_ref - g_cue).abs().max() / g_ref.abs().max()) < 1e-5
