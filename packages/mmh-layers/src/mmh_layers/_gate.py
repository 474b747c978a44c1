"""Gated equivariant non-linearity (paper Eqs. 14–15)."""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.math import normalize2mom


class Gate(torch.nn.Module):
    r"""SiLU on scalars, sigmoid gates on every channel of each ``l > 0`` irrep.

    Input irreps (``mul_ir`` layout) are ``C x 0e`` (scalars), then one ``0e`` gate per
    channel of each gated irrep, in the order of ``irreps_gated``, then the gated irreps:
    ``(C + sum_gated C_l) x 0e + irreps_gated``. Output: ``C x 0e + irreps_gated``.
    Both activations are normalised to unit second moment under a standard normal input,
    as in e3nn.

    Args:
        irreps_out: the output irreps, scalars first (``Cx0e + C1x1o + ...``).
    """

    def __init__(self, irreps_out: o3.Irreps) -> None:
        super().__init__()
        irreps_out = o3.Irreps(irreps_out)
        scalars = [(mul, ir) for mul, ir in irreps_out if ir.l == 0]
        gated = [(mul, ir) for mul, ir in irreps_out if ir.l > 0]
        if len(scalars) != 1 or scalars[0][1] != o3.Irrep("0e") or irreps_out[0].ir.l != 0:
            raise ValueError(f"gate output must start with one block of 0e scalars: {irreps_out}")
        self.irreps_out = irreps_out
        self.irreps_gated = o3.Irreps(gated)
        self.num_scalars = scalars[0][0]
        self.num_gates = sum(mul for mul, _ in gated)
        self.irreps_in = o3.Irreps(f"{self.num_scalars + self.num_gates}x0e") + self.irreps_gated
        self._gated_layout = tuple((mul, ir.dim) for mul, ir in self.irreps_gated)
        self.scalar_act = normalize2mom(torch.nn.functional.silu)
        self.gate_act = normalize2mom(torch.sigmoid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        c, g = self.num_scalars, self.num_gates
        scalars = self.scalar_act(x[:, :c])
        gates = self.gate_act(x[:, c : c + g])
        if g == 0:
            return scalars
        out = [scalars]
        start, gate_start = c + g, 0
        for mul, dim in self._gated_layout:
            block = x[:, start : start + mul * dim].reshape(n, mul, dim)
            gate = gates[:, gate_start : gate_start + mul].unsqueeze(-1)
            out.append((block * gate).reshape(n, mul * dim))
            start += mul * dim
            gate_start += mul
        return torch.cat(out, dim=-1)

    def extra_repr(self) -> str:
        return f"{self.irreps_in} -> {self.irreps_out}"
