"""Radial basis, cutoff envelope and the Agnesi distance transform (paper Eqs. 5–7)."""

from __future__ import annotations

import math

import torch

from ._covalent_radii import COVALENT_RADII


class BesselBasis(torch.nn.Module):
    r"""Radial Bessel functions :math:`B_n(r) = \sqrt{2/r_c}\,\sin(n\pi r/r_c)/r`.

    Args:
        r_max: cutoff radius :math:`r_c` in Å (sets the frequencies).
        num_basis: number of functions ``n = 1..num_basis``.

    Example:
        >>> basis = BesselBasis(r_max=5.0, num_basis=8)
        >>> basis(torch.tensor([[1.0], [2.0]])).shape
        torch.Size([2, 8])
    """

    def __init__(self, r_max: float, num_basis: int = 8) -> None:
        super().__init__()
        self.r_max = float(r_max)
        self.num_basis = int(num_basis)
        freqs = math.pi / r_max * torch.arange(1, num_basis + 1, dtype=torch.float64)
        self.register_buffer("frequencies", freqs.to(torch.get_default_dtype()))
        self.prefactor = math.sqrt(2.0 / r_max)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """``r`` of shape ``[E, 1]`` → ``[E, num_basis]``."""
        return self.prefactor * torch.sin(self.frequencies * r) / r

    def extra_repr(self) -> str:
        return f"r_max={self.r_max}, num_basis={self.num_basis}"


def polynomial_envelope(r: torch.Tensor, r_max: torch.Tensor | float, p: int) -> torch.Tensor:
    r"""Smooth polynomial cutoff of order ``p``, equal to 1 at 0 and to 0 (with its first
    two derivatives) at ``r_max``; zero beyond.

    .. math:: f(x) = 1 - \tfrac{(p+1)(p+2)}{2}x^p + p(p+2)x^{p+1} - \tfrac{p(p+1)}{2}x^{p+2},
              \quad x = r / r_{max}
    """
    x = r / r_max
    f = (
        1.0
        - 0.5 * (p + 1.0) * (p + 2.0) * x**p
        + p * (p + 2.0) * x ** (p + 1)
        - 0.5 * p * (p + 1.0) * x ** (p + 2)
    )
    return f * (x < 1.0)


class PolynomialEnvelope(torch.nn.Module):
    """Module form of [`mmh_layers.polynomial_envelope`][], fixed ``r_max`` and order ``p``."""

    def __init__(self, r_max: float, p: int = 5) -> None:
        super().__init__()
        if p < 2:
            raise ValueError(f"envelope order p must be >= 2, got {p}")
        self.r_max = float(r_max)
        self.p = int(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return polynomial_envelope(r, self.r_max, self.p)

    def extra_repr(self) -> str:
        return f"r_max={self.r_max}, p={self.p}"


class AgnesiTransform(torch.nn.Module):
    r"""Agnesi distance transform of the radial coordinate.

    .. math:: T(r) = \left(1 + \frac{a\,(r/r_0)^q}{1 + (r/r_0)^{q-p}}\right)^{-1},
              \quad r_0 = \tfrac12 (R^{cov}_{Z_i} + R^{cov}_{Z_j})

    ``T`` goes from 1 at ``r = 0`` to 0 at large ``r``; the Bessel basis is evaluated at
    ``T(r)`` while the envelope keeps the raw distance. Constants follow ACEpotentials.
    """

    def __init__(self, q: float = 0.9183, p: float = 4.5791, a: float = 1.0805) -> None:
        super().__init__()
        self.q, self.p, self.a = float(q), float(p), float(a)
        radii = torch.tensor(COVALENT_RADII, dtype=torch.get_default_dtype())
        self.register_buffer("covalent_radii", radii)

    def forward(
        self, r: torch.Tensor, atomic_numbers: torch.Tensor, edge_index: torch.Tensor
    ) -> torch.Tensor:
        """``r [E, 1]``, ``atomic_numbers [N]``, ``edge_index [2, E]`` → ``[E, 1]``."""
        radii = self.covalent_radii[atomic_numbers]
        r0 = 0.5 * (radii[edge_index[0]] + radii[edge_index[1]]).unsqueeze(-1)
        x = r / r0
        return 1.0 / (1.0 + self.a * x**self.q / (1.0 + x ** (self.q - self.p)))

    def extra_repr(self) -> str:
        return f"q={self.q}, p={self.p}, a={self.a}"
