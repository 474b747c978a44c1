"""The interaction-block interface and the registry that picks a block by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from e3nn import o3

from . import _ops
from ._irreps import conv_irreps_and_instructions, layout

INTERACTION_BLOCKS: dict[str, type[InteractionBlock]] = {}


def register_interaction_block(name: str) -> Callable[[type], type]:
    """Class decorator that makes an interaction block available by ``name`` in
    :class:`~mmh_layers.BackboneConfig`."""

    def decorate(cls: type) -> type:
        if name in INTERACTION_BLOCKS:
            raise ValueError(f"interaction block {name!r} is already registered")
        INTERACTION_BLOCKS[name] = cls
        cls.block_name = name
        return cls

    return decorate


@dataclass(frozen=True)
class InteractionSpec:
    """Everything an interaction block of one layer is built from.

    Attributes:
        irreps_node: irreps of the incoming node features.
        irreps_edge: irreps after the ``linear_up`` map (edge channels of the convolution).
        irreps_sh: spherical-harmonic irreps of the edge directions.
        irreps_target: irreps of the atomic basis the block returns (``C x (0e+1o+...)``).
        irreps_skip: irreps of the self-connection handed to the product basis.
        num_elements: size of the element table.
        num_bessel: number of radial basis functions.
        radial_mlp: hidden widths of the radial MLP.
        avg_num_neighbors: message normalisation of the ``linear`` block.
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
    ``(A [N, C, (l_max+1)^2], skip [N, irreps_skip.dim])``.

    ``edge_radial`` holds the radial basis values per edge; ``cutoff`` is the envelope
    ``[E, 1]``, or None when the envelope was already applied to the radial basis.
    """

    block_name: str = ""
    #: whether the envelope multiplies the MLP output (True) or the Bessel input (False)
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
