"""The original MACE residual interaction block (``linear``)."""

from __future__ import annotations

import torch

from . import _ops
from ._embedding import ElementLinear
from ._interaction import InteractionBlock, InteractionSpec, register_interaction_block
from ._irreps import channels_last
from ._mlp import scaled_silu_mlp


@register_interaction_block("linear")
class LinearInteraction(InteractionBlock):
    r"""Residual interaction block of the original MACE.

    .. math::
        s_i = \mathrm{FCTP}(h_i \otimes z_i),\quad
        A_i = \frac{1}{\bar n} W \sum_j R\big(B(r_{ij}) f(r_{ij})\big)
              \odot \big(W_{up} h_j \otimes Y(\hat r_{ij})\big)

    The self-connection ``s`` is element-dependent, the radial network is a bias-free MLP
    on the Bessel features (with the envelope applied to them), and messages are divided
    by the average number of neighbours.
    """

    envelope_after_mlp = False

    def __init__(self, spec: InteractionSpec) -> None:
        super().__init__(spec)
        b = spec.backend
        self.build_convolution()
        self.conv_tp_weights = scaled_silu_mlp(
            [spec.num_bessel, *spec.radial_mlp, self.conv_tp.weight_numel]
        )
        self.linear = _ops.linear(self.irreps_mid, self.irreps_target, b)
        self.skip_tp = ElementLinear(spec.irreps_node, spec.irreps_skip, spec.num_elements)
        self.inv_avg_num_neighbors = 1.0 / float(spec.avg_num_neighbors)

    def forward(
        self,
        node_feats: torch.Tensor,
        species: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_radial: torch.Tensor,
        cutoff: torch.Tensor | None,
        edge_index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        num_nodes = node_feats.shape[0]
        skip = self.skip_tp(node_feats, species)
        h = self.linear_up(node_feats)
        weights = self.conv_tp_weights(edge_radial)
        if cutoff is not None:
            weights = weights * cutoff
        messages = self.conv_tp(h[edge_index[0]], edge_sh, weights)
        a = _ops.scatter_sum(messages, edge_index[1], num_nodes)
        a = self.linear(a) * self.inv_avg_num_neighbors
        return channels_last(a, self._target_layout), skip
