"""Per-head readouts: a linear map of the first layer's scalars and a one-hidden-layer MLP
of the last layer's scalars."""

from __future__ import annotations

import math

import numpy as np
import torch
from e3nn import o3


def _silu_second_moment_constant() -> float:
    """``1 / sqrt(E[silu(z)^2])`` for ``z ~ N(0, 1)`` (e3nn's ``normalize2mom`` of SiLU).

    Computed by Gauss–Hermite quadrature, so it is deterministic.
    """
    x, w = np.polynomial.hermite_e.hermegauss(200)
    silu = x / (1.0 + np.exp(-x))
    return float(1.0 / math.sqrt((w * silu**2).sum() / math.sqrt(2 * math.pi)))


#: normalisation constant of the SiLU hidden layer
SILU_NORM = _silu_second_moment_constant()


def scalar_slices(irreps: o3.Irreps) -> list[slice]:
    """Slices of the ``0e`` channels of features laid out as ``irreps`` (e3nn mul_ir)."""
    irreps = o3.Irreps(irreps)
    return [s for (_, ir), s in zip(irreps, irreps.slices(), strict=True) if ir == o3.Irrep("0e")]


class HeadReadout(torch.nn.Module):
    """The readout of one head (no biases; e3nn-style ``1/sqrt(fan_in)`` normalisation).

    ``E_i = w_1 · h^{(1)}_i / sqrt(C_1) + w_3 · silu_n(W_2 h^{(S)}_i / sqrt(C_S)) / sqrt(M)``,
    with ``h^{(1)}`` the scalar channels of the first layer, ``h^{(S)}`` those of the last
    and ``M`` the hidden size.

    Args:
        first_channels: Number of scalar channels of the first layer.
        last_channels: Number of scalar channels of the last layer.
        hidden: Hidden units of the MLP.
        silu_norm: The second-moment normalisation constant of the SiLU (default
            ``SILU_NORM``; an imported mace-torch model keeps the constant its file stores).
    """

    def __init__(
        self,
        first_channels: int,
        last_channels: int,
        hidden: int = 16,
        silu_norm: float | None = None,
    ) -> None:
        super().__init__()
        self.hidden = int(hidden)
        self.silu_norm = SILU_NORM if silu_norm is None else float(silu_norm)
        self.linear = torch.nn.Parameter(torch.randn(first_channels))
        self.mlp_in = torch.nn.Parameter(torch.randn(last_channels, self.hidden))
        self.mlp_out = torch.nn.Parameter(torch.randn(self.hidden))

    def forward(self, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Per-atom energies ``[N]`` from scalar features ``[N, C_1]`` and ``[N, C_S]``."""
        e1 = first @ self.linear / math.sqrt(self.linear.shape[0])
        hidden = torch.nn.functional.silu(last @ self.mlp_in / math.sqrt(self.mlp_in.shape[0]))
        e2 = (self.silu_norm * hidden) @ self.mlp_out / math.sqrt(self.hidden)
        return e1 + e2
