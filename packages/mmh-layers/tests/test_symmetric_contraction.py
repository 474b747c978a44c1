"""The symmetric contraction against a direct evaluation, path counts and element weights."""

import pytest
import torch
from e3nn import o3
from mmh_layers import SymmetricContraction, coupling_tensor

BASIS = o3.Irreps("0e+1o+2e+3o")


def test_path_counts_match_mace():
    """Correlation 3 on 0e+1o+2e+3o has 1/4/23 paths to 0e and 1/6/51 to 1o."""
    counts = {
        ir: [coupling_tensor(BASIS, o3.Irrep(ir), nu).shape[-1] for nu in (1, 2, 3)]
        for ir in ("0e", "1o")
    }
    assert counts == {"0e": [1, 4, 23], "1o": [1, 6, 51]}


def _direct(sc: SymmetricContraction, x: torch.Tensor, element: int) -> torch.Tensor:
    blocks = []
    for k, _ in enumerate(sc.irreps_out):
        total = 0
        for nu in range(1, sc.correlation + 1):
            u = getattr(sc, f"U_{k}_{nu}")
            w = sc.weights[f"{k}_{nu}"][element]
            letters = "pqrs"[:nu]
            xs = ",".join(f"nc{a}" for a in letters)
            total = total + torch.einsum(f"m{letters}k,kc,{xs}->ncm", u, w, *([x] * nu))
        blocks.append(total.reshape(x.shape[0], -1))
    return torch.cat(blocks, -1)


@pytest.mark.parametrize("correlation", [1, 2, 3])
def test_horner_equals_direct_sum(dtype, correlation):
    sc = SymmetricContraction(BASIS, "4x0e+4x1o+4x2e", correlation, num_elements=1, channels=4)
    x = torch.randn(6, 4, 16)
    tol = {torch.float32: 1e-5, torch.float64: 1e-12}[dtype]
    torch.testing.assert_close(sc(x), _direct(sc, x, 0), atol=tol, rtol=tol)


def test_element_dependent_weights_pick_rows():
    torch.set_default_dtype(torch.float64)
    try:
        sc = SymmetricContraction(BASIS, "3x0e+3x1o", 3, num_elements=3, channels=3)
        x = torch.randn(7, 3, 16)
        species = torch.tensor([2, 0, 1, 2, 2, 0, 1])
        out = sc(x, species)
        for i, s in enumerate(species.tolist()):
            torch.testing.assert_close(out[i : i + 1], _direct(sc, x[i : i + 1], s))
        with pytest.raises(ValueError, match="species"):
            sc(x)
    finally:
        torch.set_default_dtype(torch.float32)


def test_output_is_equivariant():
    torch.set_default_dtype(torch.float64)
    try:
        sc = SymmetricContraction(BASIS, "2x0e+2x1o+2x2e", 3, num_elements=1, channels=2)
        x = torch.randn(5, 2, 16)
        q = -o3.rand_matrix(dtype=torch.float64)
        d_in = BASIS.D_from_matrix(q)
        out_irreps = sc.irreps_out
        rotated = sc(x @ d_in.T)
        torch.testing.assert_close(rotated, sc(x) @ out_irreps.D_from_matrix(q).T)
    finally:
        torch.set_default_dtype(torch.float32)
