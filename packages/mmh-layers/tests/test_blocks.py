"""Small modules against their e3nn definitions: gate, element embeddings, element linear."""

import torch
from e3nn import nn as e3nn_nn
from e3nn import o3
from mmh_layers import ElementEmbedding, ElementLinear, Gate


def test_gate_matches_e3nn_gate():
    torch.set_default_dtype(torch.float64)
    try:
        out = o3.Irreps("4x0e+3x1o+2x2e")
        gate = Gate(out)
        ref = e3nn_nn.Gate(
            "4x0e",
            [torch.nn.functional.silu],
            "5x0e",
            [torch.sigmoid],
            "3x1o+2x2e",
        )
        x = torch.randn(7, gate.irreps_in.dim)
        torch.testing.assert_close(gate(x), ref(x))
        assert gate.irreps_in == ref.irreps_in
    finally:
        torch.set_default_dtype(torch.float32)


def test_element_embedding_equals_linear_on_one_hot():
    emb = ElementEmbedding(5, 6)
    lin = o3.Linear("5x0e", "6x0e")
    with torch.no_grad():
        lin.weight.copy_(emb.weight.reshape(-1))
    species = torch.tensor([0, 3, 4, 1])
    one_hot = torch.nn.functional.one_hot(species, 5).float()
    torch.testing.assert_close(emb(species), lin(one_hot))


def test_element_linear_equals_fully_connected_tp_on_one_hot():
    torch.set_default_dtype(torch.float64)
    try:
        irreps_in, irreps_out = o3.Irreps("3x0e+2x1o"), o3.Irreps("4x0e+2x1o+2x2e")
        ours = ElementLinear(irreps_in, irreps_out, 3)
        ref = o3.FullyConnectedTensorProduct(irreps_in, "3x0e", irreps_out)
        with torch.no_grad():
            ref.weight.copy_(torch.cat([w.reshape(-1) for w in ours.weights]))
        x = torch.randn(6, irreps_in.dim)
        species = torch.tensor([2, 0, 1, 1, 2, 0])
        one_hot = torch.nn.functional.one_hot(species, 3).double()
        torch.testing.assert_close(ours(x, species), ref(x, one_hot))
    finally:
        torch.set_default_dtype(torch.float32)
