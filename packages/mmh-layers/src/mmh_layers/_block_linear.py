"""The original MACE interaction blocks: residual (``linear``) and non-residual
(``linear_nonresidual``, the first layer of MACE-MP-0b)."""

from __future__ import annotations

import torch

from . import _ops
from ._embedding import ElementLinear
from ._interaction import InteractionBlock, InteractionSpec, register_interaction_block
from ._irreps import channels_last
from ._mlp import scaled_silu_mlp


@register_interaction_block("linear")
class LinearInteraction(InteractionBlock):
    r"""Residual interaction block of the original MACE (mace
    ``RealAgnosticResidualInteractionBlock``).

    .. math::
        s_i = \mathrm{FCTP}(h_i \otimes z_i),\quad
        A_i = \frac{1}{\bar n} W \sum_j R\big(B(r_{ij}) f(r_{ij})\big)
              \odot \big(W_{up} h_j \otimes Y(\hat r_{ij})\big)

    The self-connection ``s`` is element-dependent, the radial network is a bias-free MLP
    on the Bessel features (with the envelope applied to them by default; with
    ``envelope_after_mlp`` it multiplies the MLP output instead), and messages are divided
    by the average number of neighbours.

    This class is also the base of the other blocks of the original MACE family, which
    differ in two switches:

    * ``residual``: True builds ``skip_tp`` from the node features to the hidden irreps and
      returns it as the self-connection; False (the non-residual first layers) maps the
      message instead, ``A_i <- FCTP(A_i ⊗ z_i)`` on the target irreps, and returns no
      self-connection;
    * ``density_normalised``: False divides the message by ``avg_num_neighbors``; True
      divides it by ``rho_i + 1`` with the learnt density ``rho_i`` (see
      ``DensityInteraction``).
    """

    envelope_after_mlp = False
    #: self-connection from the node features (True) or element-dependent map of the message
    residual: bool = True
    #: message divided by ``rho_i + 1`` (True) or by ``avg_num_neighbors`` (False)
    density_normalised: bool = False

    def __init__(self, spec: InteractionSpec) -> None:
        super().__init__(spec)
        b = spec.backend
        self.build_convolution()
        self.conv_tp_weights = scaled_silu_mlp(
            [spec.num_bessel, *spec.radial_mlp, self.conv_tp.weight_numel]
        )
        self.linear = _ops.linear(self.irreps_mid, self.irreps_target, b)
        if self.residual:
            self.skip_tp = ElementLinear(spec.irreps_node, spec.irreps_skip, spec.num_elements)
        else:
            self.skip_tp = ElementLinear(self.irreps_target, self.irreps_target, spec.num_elements)
        if self.density_normalised:
            # one bias-free layer without activation: w . e_ij / sqrt(num_bessel)
            self.density_fn = scaled_silu_mlp([spec.num_bessel, 1])
        self.inv_avg_num_neighbors = 1.0 / float(spec.avg_num_neighbors)

    def forward(
        self,
        node_feats: torch.Tensor,
        species: torch.Tensor,
        edge_sh: torch.Tensor,
        edge_radial: torch.Tensor,
        cutoff: torch.Tensor | None,
        edge_index: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        skip = self.skip_tp(node_feats, species) if self.residual else None
        h = self.linear_up(node_feats)
        weights = self.conv_tp_weights(edge_radial)
        a = self.linear(self.convolve(h, edge_sh, weights, cutoff, edge_index))
        if self.density_normalised:
            density = self.density(edge_radial, cutoff, edge_index[1], node_feats.shape[0])
            a = a / (density + 1)
        else:
            a = a * self.inv_avg_num_neighbors
        if not self.residual:
            a = self.skip_tp(a, species)
        return channels_last(a, self._target_layout), skip


@register_interaction_block("linear_nonresidual")
class LinearNonResidualInteraction(LinearInteraction):
    r"""Non-residual block of the original MACE (mace ``RealAgnosticInteractionBlock``), the
    first layer of MACE-MP-0b.

    .. math::
        A_i = \mathrm{FCTP}\Big(\frac{1}{\bar n} W \sum_j R(\cdot)
              \odot \big(W_{up} h_j \otimes Y(\hat r_{ij})\big) \otimes z_i\Big)

    As ``LinearInteraction``, but without a self-connection from the node features: the
    element-dependent map ``skip_tp`` (target irreps to target irreps) acts on the message
    after the division by the average number of neighbours, and the block returns no
    self-connection, so the product basis adds none (mace builds it with ``use_sc=False``).
    """

    residual = False
