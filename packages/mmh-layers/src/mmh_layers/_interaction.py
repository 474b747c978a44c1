"""The interaction-block interface and the registry that picks a block by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from e3nn import o3

from . import _ops
from ._fused_conv import FusedConvolution
from ._irreps import conv_irreps_and_instructions, layout

INTERACTION_BLOCKS: dict[str, type[InteractionBlock]] = {}


def register_interaction_block(name: str) -> Callable[[type], type]:
    """Class decorator that makes an interaction block available by ``name`` in
    ``BackboneConfig.block`` and ``BackboneConfig.first_block``."""

    def decorate(cls: type) -> type:
        if name in INTERACTION_BLOCKS:
            raise ValueError(f"interaction block {name!r} is already registered")
        INTERACTION_BLOCKS[name] = cls
        cls.block_name = name
        return cls

    return decorate


def interaction_block_class(name: str) -> type[InteractionBlock]:
    """The registered interaction block called ``name``; ValueError listing the names if none."""
    try:
        return INTERACTION_BLOCKS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown interaction block {name!r}; "
            f"available: {', '.join(sorted(INTERACTION_BLOCKS))}"
        ) from None


@dataclass(frozen=True)
class InteractionSpec:
    """Everything an interaction block of one layer is built from.

    Attributes:
        irreps_node: irreps of the incoming node features.
        irreps_edge: irreps after the ``linear_up`` map (edge channels of the convolution).
        irreps_sh: spherical-harmonic irreps of the edge directions.
        irreps_target: irreps of the atomic basis the block returns (``C x (0e+1o+...)``).
        irreps_skip: irreps of the self-connection handed to the product basis (the
            hidden irreps of the layer; unused by blocks without a self-connection).
        num_elements: size of the element table.
        num_bessel: number of radial basis functions.
        radial_mlp: hidden widths of the radial MLP.
        avg_num_neighbors: message normalisation of the ``linear`` blocks.
        backend: ``"e3nn"`` or ``"cueq"``.
    """

    irreps_node: o3.Irreps
    irreps_edge: o3.Irreps
    irreps_sh: o3.Irreps
    irreps_target: o3.Irreps
    irreps_skip: o3.Irreps
    num_elements: int
    num_bessel: int
    radial_mlp: tuple[int, ...]
    avg_num_neighbors: float
    backend: str


class InteractionBlock(torch.nn.Module):
    """Base class: one message-passing step that builds the atomic basis ``A``.

    ``forward(node_feats, species, edge_sh, edge_radial, cutoff, edge_index)`` returns
    ``(A [N, C, (l_max+1)^2], skip [N, irreps_skip.dim])``, or ``(A, None)`` for a block
    without a self-connection (the product basis then adds none).

    ``edge_radial`` holds the radial basis values per edge; ``cutoff`` is the envelope
    ``[E, 1]``, or None when the envelope was already applied to the radial basis (the
    backbone decides, see ``BackboneConfig.envelope_after_mlp``). A block multiplies its
    per-edge terms (tensor-product weights, edge densities) by ``cutoff`` when it is given.
    """

    block_name: str = ""
    #: default envelope placement of models built from this block: on the MLP output
    #: (True) or on the Bessel input (False)
    envelope_after_mlp: bool = True

    def __init__(self, spec: InteractionSpec) -> None:
        super().__init__()
        self.spec = spec
        self.irreps_target = o3.Irreps(spec.irreps_target)
        self.channels = self.irreps_target[0].mul
        if any(mul != self.channels for mul, _ in self.irreps_target):
            raise ValueError(f"target irreps need one multiplicity: {self.irreps_target}")
        self._target_layout = layout(self.irreps_target)

    def build_convolution(self) -> None:
        """Create ``linear_up`` (node → edge channels) and the channel-wise edge tensor
        product ``conv_tp`` with its output irreps ``irreps_mid``, for the spec's backend."""
        spec = self.spec
        self.linear_up = _ops.linear(spec.irreps_node, spec.irreps_edge, spec.backend)
        self.irreps_mid, instructions = conv_irreps_and_instructions(
            spec.irreps_edge, spec.irreps_sh, self.irreps_target
        )
        self.conv_tp = _ops.conv_tensor_product(
            spec.irreps_edge, spec.irreps_sh, self.irreps_mid, instructions, spec.backend
        )
        # the fused form of the same convolution (gather, product and scatter in one
        # operation): cuequivariance's indexed polynomial for the cueq backend, on every
        # device; mmh's native kernel for the e3nn backend, on CPU tensors (see _native)
        self.fused_conv: torch.nn.Module | None = None
        if spec.backend == "cueq":
            from ._cueq import CueFusedConvolution

            self.fused_conv = CueFusedConvolution(spec.irreps_edge, spec.irreps_sh, self.irreps_mid)
        elif FusedConvolution.supports(self.conv_tp):
            self.fused_conv = FusedConvolution(self.conv_tp)

    def convolve(
        self,
        h: torch.Tensor,
        edge_sh: torch.Tensor,
        weights: torch.Tensor,
        cutoff: torch.Tensor | None,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        """``sum_j conv_tp(h_j, Y(r_ij); w_ij [* f(r_ij)])`` over the senders ``j`` of each
        receiver ``i``; ``weights`` is the radial MLP output, ``cutoff`` the envelope or None.

        With the cueq backend this is cuequivariance's indexed convolution; with e3nn, on CPU
        tensors, the native fused kernel when it is available. Neither forms a per-edge
        message tensor. Otherwise (e3nn on other devices) the e3nn product and a scatter.
        The product is linear in each operand, so the fused path multiplies the envelope into
        the (16-wide) harmonics instead of the (``K x C``-wide) weights: the same function.
        """
        if self.fused_conv is not None and self.fused_conv.applies(h):
            if cutoff is not None:
                edge_sh = edge_sh * cutoff
            return self.fused_conv(h, edge_sh, weights, edge_index)
        if cutoff is not None:
            weights = weights * cutoff
        messages = self.conv_tp(h[edge_index[0]], edge_sh, weights)
        return _ops.scatter_sum(messages, edge_index[1], h.shape[0])

    def density(
        self,
        edge_feats: torch.Tensor,
        cutoff: torch.Tensor | None,
        receiver: torch.Tensor,
        num_nodes: int,
    ) -> torch.Tensor:
        """Neighbour density ``rho_i = sum_j tanh(density_fn(e_ij)^2) [* f(r_ij)]``, ``[N, 1]``.

        The envelope multiplies the edge terms when ``cutoff`` is given (otherwise it is
        already in ``edge_feats``).
        """
        edge_density = torch.tanh(self.density_fn(edge_feats) ** 2)
        if cutoff is not None:
            edge_density = edge_density * cutoff
        return _ops.scatter_sum(edge_density, receiver, num_nodes)
