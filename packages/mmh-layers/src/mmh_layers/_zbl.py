"""Ziegler–Biersack–Littmark screened nuclear repulsion as a per-atom energy."""

from __future__ import annotations

import torch

from ._covalent_radii import COVALENT_RADII
from ._radial import polynomial_envelope

_BOHR = 0.529
_COULOMB = 14.3996  # e^2 / (4 pi eps0) in eV Å
_PHI_C = (0.1818, 0.5099, 0.2802, 0.02817)
_PHI_D = (3.2, 0.9423, 0.4028, 0.2016)


class ZBLRepulsion(torch.nn.Module):
    r"""ZBL pair repulsion, switched off smoothly at the sum of covalent radii.

    .. math:: V_{ij} = \frac{14.3996\,Z_i Z_j}{r}\,\phi(r/a)\,f_p(r; R_i + R_j),\quad
              a = \frac{0.4543\cdot 0.529}{Z_i^{0.3} + Z_j^{0.3}}

    Each directed edge contributes ``V_ij / 2`` to its receiver, so a full neighbour list
    (both directions) gives the pair energy once.

    Args:
        p: order of the polynomial envelope.
    """

    def __init__(self, p: int = 5) -> None:
        super().__init__()
        self.p = int(p)
        radii = torch.tensor(COVALENT_RADII, dtype=torch.get_default_dtype())
        self.register_buffer("covalent_radii", radii)

    def forward(
        self, r: torch.Tensor, atomic_numbers: torch.Tensor, edge_index: torch.Tensor
    ) -> torch.Tensor:
        """Per-atom repulsion energies ``[N]`` from edge lengths ``r [E, 1]``."""
        z = atomic_numbers.to(r.dtype)
        zi, zj = z[edge_index[0]].unsqueeze(-1), z[edge_index[1]].unsqueeze(-1)
        a = 0.4543 * _BOHR / (zi**0.3 + zj**0.3)
        x = r / a
        phi = sum(c * torch.exp(-d * x) for c, d in zip(_PHI_C, _PHI_D, strict=True))
        radii = self.covalent_radii.to(r.dtype)[atomic_numbers]
        r_cut = (radii[edge_index[0]] + radii[edge_index[1]]).unsqueeze(-1)
        v = 0.5 * _COULOMB * zi * zj / r * phi * polynomial_envelope(r, r_cut, self.p)
        out = torch.zeros(atomic_numbers.shape[0], dtype=r.dtype, device=r.device)
        return out.index_add(0, edge_index[1], v.squeeze(-1))

    def extra_repr(self) -> str:
        return f"p={self.p}"
