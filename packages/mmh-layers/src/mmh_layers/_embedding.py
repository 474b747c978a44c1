"""Element embeddings: a linear map of the one-hot element encoding, done as a lookup."""

from __future__ import annotations

import torch


class ElementEmbedding(torch.nn.Module):
    """Linear map from one-hot elements to ``channels`` scalars, without bias.

    Numerically identical to an e3nn ``Linear(num_elements x 0e -> channels x 0e)`` applied to
    a one-hot vector (weights N(0, 1), output scaled by ``1/sqrt(num_elements)``), but computed
    as a row lookup.

    Args:
        num_elements: size of the element table.
        channels: output width.
        init_range: if given, weights are drawn from ``U(-init_range, init_range)`` instead of
            N(0, 1) (the non-linear block's source/target embeddings use ``1e-3``).
    """

    def __init__(self, num_elements: int, channels: int, init_range: float | None = None) -> None:
        super().__init__()
        self.num_elements = num_elements
        self.channels = channels
        weight = torch.empty(num_elements, channels)
        if init_range is None:
            torch.nn.init.normal_(weight)
        else:
            torch.nn.init.uniform_(weight, -init_range, init_range)
        self.weight = torch.nn.Parameter(weight)
        self.scale = num_elements**-0.5

    def forward(self, species: torch.Tensor) -> torch.Tensor:
        """``species [N]`` (indices into the element table) → ``[N, channels]``."""
        return self.weight[species] * self.scale

    def extra_repr(self) -> str:
        return f"{self.num_elements} -> {self.channels}x0e"


class ElementLinear(torch.nn.Module):
    """Element-dependent linear map of equivariant features (one weight matrix per element
    and irrep), the self-connection of the original MACE block.

    Equal to e3nn's ``FullyConnectedTensorProduct(irreps_in, num_elements x 0e, irreps_out)``
    on one-hot inputs: for each irrep present in both, ``out = x @ W[:, z, :] /
    sqrt(mul_in * num_elements)``; output irreps with no matching input are zero.
    Parameters are stored per path as ``[mul_in, num_elements, mul_out]``.
    """

    def __init__(self, irreps_in, irreps_out, num_elements: int) -> None:
        super().__init__()
        from e3nn import o3

        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_out = o3.Irreps(irreps_out)
        self.num_elements = num_elements
        self.paths: list[tuple[int, int]] = []
        self.weights = torch.nn.ParameterList()
        for i, (mul_in, ir_in) in enumerate(self.irreps_in):
            for j, (mul_out, ir_out) in enumerate(self.irreps_out):
                if ir_in == ir_out:
                    self.paths.append((i, j))
                    self.weights.append(
                        torch.nn.Parameter(torch.randn(mul_in, num_elements, mul_out))
                    )
        fan_in = {j: 0 for j in range(len(self.irreps_out))}
        for i, j in self.paths:
            fan_in[j] += self.irreps_in[i].mul * num_elements
        self.path_scale = [fan_in[j] ** -0.5 for _, j in self.paths]
        self._in_layout = tuple(
            (s.start, mul, ir.dim)
            for s, (mul, ir) in zip(self.irreps_in.slices(), self.irreps_in, strict=True)
        )
        self._out_layout = tuple((mul, ir.dim) for mul, ir in self.irreps_out)

    def forward(self, x: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        outs = [x.new_zeros(n, mul, dim) for mul, dim in self._out_layout]
        order = torch.argsort(species)
        counts = torch.bincount(species, minlength=self.num_elements).tolist()
        for (i, j), w, scale in zip(self.paths, self.weights, self.path_scale, strict=True):
            start_in, mul_in, dim = self._in_layout[i]
            xi = x[:, start_in : start_in + mul_in * dim].reshape(n, mul_in, dim)[order]
            pieces, start = [], 0
            for element, count in enumerate(counts):
                if count:
                    block = xi[start : start + count]  # [n_e, mul_in, d]
                    pieces.append(torch.einsum("nud,uv->nvd", block, w[:, element, :]))
                    start += count
            y = torch.cat(pieces, dim=0) * scale
            outs[j] = outs[j] + torch.empty_like(y).index_copy(0, order, y)
        return torch.cat([o.reshape(n, -1) for o in outs], dim=-1)

    def extra_repr(self) -> str:
        return f"{self.irreps_in} x {self.num_elements}x0e -> {self.irreps_out}"
