"""Irreps helpers shared by the interaction blocks and the product basis."""

from __future__ import annotations

import torch
from e3nn import o3


def hidden_irreps(channels: int, max_L: int) -> o3.Irreps:
    """Node-feature irreps ``channels x (0e + 1o + 2e + ...)`` up to ``max_L``.

    Parity follows the spherical harmonics, ``(-1)^l``.

    Example:
        >>> str(hidden_irreps(8, 1))
        '8x0e+8x1o'
    """
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    if not 0 <= max_L <= 3:
        raise ValueError(f"max_L must be in 0..3, got {max_L}")
    return o3.Irreps([(channels, (l, (-1) ** l)) for l in range(max_L + 1)])


def scalar_irreps(irreps: o3.Irreps) -> o3.Irreps:
    """The ``0e`` part of ``irreps`` as one block (``Nx0e``)."""
    return o3.Irreps([(o3.Irreps(irreps).count(o3.Irrep(0, 1)), (0, 1))])


def conv_irreps_and_instructions(
    irreps_node: o3.Irreps, irreps_sh: o3.Irreps, target: o3.Irreps
) -> tuple[o3.Irreps, list[tuple[int, int, int, str, bool]]]:
    """Output irreps and ``uvu`` instructions of the edge tensor product.

    Every pair (node irrep, spherical-harmonic irrep) contributes one output block per
    coupled irrep that appears in ``target``; each block keeps the node multiplicity
    (channel-wise product, one weight per channel and path). The output blocks are sorted
    by irrep (not merged) so that the following linear layer sees contiguous blocks.
    """
    blocks: list[tuple[int, o3.Irrep]] = []
    instructions: list[tuple[int, int, int]] = []
    for i, (mul, ir_node) in enumerate(o3.Irreps(irreps_node)):
        for j, (_, ir_sh) in enumerate(o3.Irreps(irreps_sh)):
            for ir_out in ir_node * ir_sh:
                if ir_out in target:
                    instructions.append((i, j, len(blocks)))
                    blocks.append((mul, ir_out))
    irreps_mid, permutation, _ = o3.Irreps(blocks).sort()
    sorted_instructions = sorted(
        ((i, j, permutation[k], "uvu", True) for i, j, k in instructions), key=lambda t: t[2]
    )
    return irreps_mid, sorted_instructions


def layout(irreps: o3.Irreps) -> tuple[tuple[int, int], ...]:
    """``(multiplicity, dimension)`` of each irrep block, as plain integers.

    Forward passes use this instead of e3nn ``Irreps`` objects, which ``torch.compile``
    cannot guard on.
    """
    return tuple((mul, ir.dim) for mul, ir in o3.Irreps(irreps))


def channels_last(x: torch.Tensor, irreps) -> torch.Tensor:
    """Reshape ``[N, irreps.dim]`` (e3nn ``mul_ir`` layout) to ``[N, C, sum(2l+1)]``.

    ``irreps`` is an e3nn ``Irreps`` or its `layout`. All irreps must share one
    multiplicity ``C``; the components of each irrep are laid side by side along the last
    axis, in the order of ``irreps``.
    """
    blocks = (
        irreps
        if isinstance(irreps, tuple) and not isinstance(irreps, o3.Irreps)
        else (layout(irreps))
    )
    n = x.shape[0]
    pieces = []
    start = 0
    for mul, dim in blocks:
        d = mul * dim
        pieces.append(x[:, start : start + d].reshape(n, mul, dim))
        start += d
    return torch.cat(pieces, dim=-1)


def channels_first(x: torch.Tensor, irreps: o3.Irreps) -> torch.Tensor:
    """Inverse of [`mmh_layers.channels_last`][]: ``[N, C, sum(2l+1)]`` to ``[N, irreps.dim]``."""
    n = x.shape[0]
    pieces = []
    start = 0
    for _, ir in irreps:
        pieces.append(x[:, :, start : start + ir.dim].reshape(n, -1))
        start += ir.dim
    return torch.cat(pieces, dim=-1)
