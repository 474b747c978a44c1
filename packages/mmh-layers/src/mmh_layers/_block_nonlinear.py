"""The MACE-MH-1 interaction block (``nonlinear``), paper Eqs. 5–15."""

from __future__ import annotations

import torch

from . import _ops
from ._embedding import ElementEmbedding
from ._gate import Gate
from ._interaction import InteractionBlock, InteractionSpec, register_interaction_block
from ._irreps import channels_last, scalar_irreps
from ._mlp import RadialMLP


def _split_input_mlp(
    mlp: RadialMLP,
    edge_radial: torch.Tensor,
    source: torch.Tensor,
    target: torch.Tensor,
    edge_index: torch.Tensor,
) -> torch.Tensor:
    """``mlp(cat[edge_radial, source[sender], target[receiver]])`` without the concatenation.

    The first layer is linear, so its product with the concatenated edge features splits
    into the product with the radial features plus per-node products of the embeddings,
    gathered per edge: the same function, with no ``[E, num_bessel + 2 x scalars]`` tensor
    and node-sized instead of edge-sized GEMMs for the embedding parts.
    """
    first = mlp[0]
    nb, ns = edge_radial.shape[1], source.shape[1]
    w = first.weight
    hidden = torch.addmm(first.bias, edge_radial, w[:, :nb].t())
    hidden = hidden + (source @ w[:, nb : nb + ns].t())[edge_index[0]]
    hidden = hidden + (target @ w[:, nb + ns :].t())[edge_index[1]]
    for layer in list(mlp)[1:]:
        hidden = layer(hidden)
    return hidden


@register_interaction_block("nonlinear")
class NonLinearInteraction(InteractionBlock):
    r"""Interaction block with element embeddings, density normalisation, residual and gate.

    Over the original block it adds, in the paper's order:

    * source/target element embeddings concatenated to the Bessel features before the
      radial MLP (a LayerNorm/SiLU MLP with biases);
    * the cutoff envelope applied *after* the radial MLP (the default of this block);
    * a learnable density normalisation, ``A / (beta * rho_i + alpha)`` with
      ``rho_i = sum_j tanh(MLP(e_ij)^2) f(r_ij)`` (``alpha = 20``, ``beta = 0`` at start);
    * a residual from the (up-projected) node features into the atomic basis (Eq. 11);
    * extra scalars and a gate: SiLU on scalars, sigmoid gates on ``l > 0`` (Eqs. 12–15);
    * separate edge and node channel counts, and an element-agnostic self-connection.
    """

    envelope_after_mlp = True

    def __init__(self, spec: InteractionSpec) -> None:
        super().__init__(spec)
        b = spec.backend
        num_scalars = scalar_irreps(spec.irreps_node).dim
        self.source_embedding = ElementEmbedding(spec.num_elements, num_scalars, init_range=1e-3)
        self.target_embedding = ElementEmbedding(spec.num_elements, num_scalars, init_range=1e-3)
        self.build_convolution()
        mlp_in = spec.num_bessel + 2 * num_scalars
        self.conv_tp_weights = RadialMLP([mlp_in, *spec.radial_mlp, self.conv_tp.weight_numel])
        self.density_fn = RadialMLP([mlp_in, 64, 1])
        self.alpha = torch.nn.Parameter(torch.tensor(20.0))
        self.beta = torch.nn.Parameter(torch.tensor(0.0))
        self.skip_tp = _ops.linear(spec.irreps_node, spec.irreps_skip, b)
        self.gate = Gate(self.irreps_target)
        irreps_gate_in = self.gate.irreps_in.simplify()
        self.linear_res = _ops.linear(spec.irreps_edge, irreps_gate_in, b)
        self.linear_1 = _ops.linear(self.irreps_mid, irreps_gate_in, b)
        self.linear_2 = _ops.linear(self.irreps_target, self.irreps_target, b)

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
        receiver = edge_index[1]
        skip = self.skip_tp(node_feats)
        h = self.linear_up(node_feats)
        residual = self.linear_res(h)
        source = self.source_embedding(species)
        target = self.target_embedding(species)
        weights = _split_input_mlp(self.conv_tp_weights, edge_radial, source, target, edge_index)
        edge_density = _split_input_mlp(self.density_fn, edge_radial, source, target, edge_index)
        edge_density = torch.tanh(edge_density**2)
        if cutoff is not None:
            edge_density = edge_density * cutoff
        density = _ops.scatter_sum(edge_density, receiver, num_nodes)
        a = self.convolve(h, edge_sh, weights, cutoff, edge_index)
        a = self.linear_1(a) / (self.beta * density + self.alpha) + residual
        a = self.linear_2(self.gate(a))
        return channels_last(a, self._target_layout), skip
