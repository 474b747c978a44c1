"""Generalised Clebsch–Gordan coupling tensors of the symmetric contraction (paper Eq. 17)."""

from __future__ import annotations

import functools

import torch
from e3nn import o3

#: ``(l_1, l_2, l_3)`` (all ``l <= 8``) whose ``wigner_3j`` in e3nn 0.4 has the opposite sign to
#: e3nn 0.5 and later; mace-torch builds its coupling basis with e3nn 0.4. Measured by comparing
#: the two versions' tables for every triplet up to l = 8; the other triplets agree to 1e-12.
E3NN_04_SIGN_FLIPS = frozenset(
    {
        (1, 2, 2),
        (1, 3, 3),
        (1, 4, 4),
        (1, 5, 5),
        (1, 6, 6),
        (1, 7, 7),
        (1, 8, 8),
        (2, 1, 2),
        (2, 2, 1),
        (3, 1, 3),
        (3, 3, 1),
        (3, 4, 6),
        (3, 5, 7),
        (3, 6, 4),
        (3, 6, 8),
        (3, 7, 5),
        (3, 8, 6),
        (4, 1, 4),
        (4, 3, 6),
        (4, 4, 1),
        (4, 4, 5),
        (4, 5, 4),
        (4, 5, 6),
        (4, 6, 3),
        (4, 6, 5),
        (4, 6, 7),
        (4, 7, 6),
        (4, 7, 8),
        (4, 8, 7),
        (5, 1, 5),
        (5, 3, 7),
        (5, 4, 4),
        (5, 4, 6),
        (5, 5, 1),
        (5, 5, 5),
        (5, 6, 4),
        (5, 6, 6),
        (5, 7, 3),
        (5, 7, 7),
        (5, 8, 8),
        (6, 1, 6),
        (6, 3, 4),
        (6, 3, 8),
        (6, 4, 3),
        (6, 4, 5),
        (6, 4, 7),
        (6, 5, 4),
        (6, 5, 6),
        (6, 6, 1),
        (6, 6, 5),
        (6, 7, 4),
        (6, 8, 3),
        (7, 1, 7),
        (7, 3, 5),
        (7, 4, 6),
        (7, 4, 8),
        (7, 5, 3),
        (7, 5, 7),
        (7, 6, 4),
        (7, 7, 1),
        (7, 7, 5),
        (7, 8, 4),
        (8, 1, 8),
        (8, 3, 6),
        (8, 4, 7),
        (8, 5, 8),
        (8, 6, 3),
        (8, 7, 4),
        (8, 8, 1),
        (8, 8, 5),
    }
)
_E3NN_04_LMAX = 8


@functools.lru_cache(maxsize=64)
def _coupled_paths(
    irreps_in: str, nu: int, l_cap: int, basis: str = "mmh"
) -> tuple[tuple[o3.Irrep, torch.Tensor], ...]:
    """All left-to-right couplings of ``nu`` copies of ``irreps_in`` (multiplicity one each).

    Returns ``(irrep, C)`` pairs sorted by irrep (stable; for equal ``l`` the natural
    parity first, the order of cuequivariance's MACE-compatible basis), where ``C`` has
    shape ``[irrep.dim, D, ..., D]`` with ``nu`` input axes of size ``D = irreps_in.dim``.
    Only couplings with ``l <= l_cap`` are kept; the recursion raises the cap by the largest
    input ``l`` per remaining factor, so no path that can still reach the cap is lost and
    the surviving paths keep their order.
    Each coupling step multiplies by ``wigner_3j(l_out, l_left, l_right) * sqrt(2 l_out + 1)``
    (``component`` normalisation), so every path is a distinct polynomial basis function.
    """
    irreps = o3.Irreps(irreps_in)
    dim = irreps.dim
    if nu == 1:
        eye = torch.eye(dim, dtype=torch.float64)
        out, start = [], 0
        for mul, ir in irreps:
            if mul != 1:
                raise ValueError(f"coupling expects multiplicity-one irreps, got {irreps}")
            if ir.l <= l_cap:
                out.append((ir, eye[start : start + ir.dim]))
            start += ir.dim
        return tuple(out)
    result = []
    for ir_left, c_left in _coupled_paths(irreps_in, nu - 1, l_cap + irreps.lmax, basis):
        start = 0
        for _, ir_right in irreps:
            for ir_out in ir_left * ir_right:
                if ir_out.l > l_cap:
                    continue
                w3j = _wigner_3j(ir_out.l, ir_left.l, ir_right.l)  # [M, m, r]
                if basis == "mace":
                    triplet = (ir_out.l, ir_left.l, ir_right.l)
                    if max(triplet) > _E3NN_04_LMAX:
                        raise ValueError(f"the mace basis is tabulated up to l = {_E3NN_04_LMAX}")
                    if triplet in E3NN_04_SIGN_FLIPS:
                        w3j = -w3j
                # C[M, i_1..i_{nu-1}, r] = sum_m C_left[m, i_1..] w3j[M, m, r]
                lhs = w3j.transpose(1, 2).reshape(-1, w3j.shape[1])  # [M * r, m]
                c = (lhs @ c_left.reshape(c_left.shape[0], -1)).reshape(
                    ir_out.dim, ir_right.dim, *c_left.shape[1:]
                )
                c = c.movedim(1, -1)
                full = torch.zeros(*c.shape[:-1], dim, dtype=torch.float64)
                full[..., start : start + ir_right.dim] = c
                result.append((ir_out, full))
            start += ir_right.dim
    key = _irrep_order if basis == "mmh" else _e3nn_order
    result.sort(key=lambda pair: key(pair[0]))
    return tuple(result)


@functools.cache
def _wigner_3j(l_out: int, l_left: int, l_right: int) -> torch.Tensor:
    """``wigner_3j`` in ``component`` normalisation (scaled by ``sqrt(2 l_out + 1)``)."""
    w3j = o3.wigner_3j(l_out, l_left, l_right, dtype=torch.float64)
    return w3j * (2 * l_out + 1) ** 0.5


def _irrep_order(ir: o3.Irrep) -> tuple[int, int]:
    """Sort key: by ``l``, the natural parity ``(-1)^l`` first (as cuequivariance orders)."""
    return ir.l, 0 if ir.p == (-1) ** ir.l else 1


def _e3nn_order(ir: o3.Irrep) -> tuple[int, int]:
    """Sort key of e3nn's ``Irrep`` ordering: by ``l``, odd parity first (mace-torch's basis)."""
    return ir.l, ir.p


def coupling_tensor(
    irreps_in: o3.Irreps, ir_out: o3.Irrep, nu: int, basis: str = "mmh"
) -> torch.Tensor:
    """Stack of all coupling paths from ``nu`` copies of ``irreps_in`` to ``ir_out``.

    Shape ``[ir_out.dim, D, ..., D, K]`` (``nu`` axes of size ``D``; ``K`` paths, possibly
    zero), float64.

    ``basis="mmh"`` is mmh's basis. ``basis="mace"`` is the basis that mace-torch builds
    without cuequivariance (``use_reduced_cg=False``): the same couplings, ordered as e3nn
    sorts irreps (odd parity first) and with e3nn 0.4's Wigner-3j signs; it equals the
    ``U_matrix_*`` buffers of mace's files to round-off.

    Example:
        >>> coupling_tensor(o3.Irreps("0e+1o"), o3.Irrep("0e"), 2).shape
        torch.Size([1, 4, 4, 2])
    """
    ir_out = o3.Irrep(ir_out)
    irreps_in = o3.Irreps(irreps_in)
    if basis not in ("mmh", "mace"):
        raise ValueError(f"basis must be 'mmh' or 'mace', got {basis!r}")
    paths = [c for ir, c in _coupled_paths(str(irreps_in), nu, ir_out.l, basis) if ir == ir_out]
    if not paths:
        return torch.zeros(ir_out.dim, *([irreps_in.dim] * nu), 0, dtype=torch.float64)
    return torch.stack(paths, dim=-1)
