"""Product basis and node update (paper Eqs. 16–19)."""

from __future__ import annotations

import torch
from e3nn import o3

from . import _ops


class ProductBasis(torch.nn.Module):
    """Symmetric contraction of the atomic basis, a linear update, plus the self-connection.

    ``h_new = W · SymmetricContraction(A, z) + skip``.

    Args:
        irreps_basis: irreps of the atomic basis, ``C x (0e+1o+...)``.
        irreps_out: irreps of the updated node features.
        correlation: body order of the contraction.
        num_elements: size of the element table.
        agnostic: share the contraction weights across elements.
        backend: ``"e3nn"`` or ``"cueq"``.
    """

    def __init__(
        self,
        irreps_basis: o3.Irreps,
        irreps_out: o3.Irreps,
        correlation: int,
        num_elements: int,
        agnostic: bool,
        backend: str = "e3nn",
    ) -> None:
        super().__init__()
        irreps_basis = o3.Irreps(irreps_basis)
        channels = irreps_basis[0].mul
        per_channel = o3.Irreps([(1, ir) for _, ir in irreps_basis])
        self.agnostic = agnostic
        self.symmetric_contraction = _ops.symmetric_contraction(
            per_channel,
            irreps_out,
            correlation,
            1 if agnostic else num_elements,
            channels,
            backend,
        )
        self.linear = _ops.linear(irreps_out, irreps_out, backend)

    def forward(
        self, basis: torch.Tensor, skip: torch.Tensor | None, species: torch.Tensor
    ) -> torch.Tensor:
        out = self.symmetric_contraction(basis, None if self.agnostic else species)
        out = self.linear(out)
        return out if skip is None else out + skip
