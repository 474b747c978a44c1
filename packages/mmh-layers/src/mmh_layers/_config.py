"""Hyper-parameters of the backbone."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from e3nn import o3

from . import _block_density, _block_linear, _block_nonlinear  # noqa: F401  (register them)
from ._interaction import interaction_block_class
from ._irreps import hidden_irreps

# optional fields added after the first saved models; absent from to_dict while None
_OMITTED_WHEN_NONE = ("first_block", "envelope_after_mlp")


@dataclass(frozen=True)
class BackboneConfig:
    """Hyper-parameters of ``MACEBackbone``.

    Attributes:
        elements: atomic numbers of the element table, in order.
        block: interaction block of the layers by name (of the layers after the first
            when ``first_block`` is set): ``"nonlinear"`` (MACE-MH-1), ``"linear"``
            (original MACE), ``"density"`` (density-normalised original MACE, the later
            layers of MPA-0/OMAT-0), or a block added with ``register_interaction_block``.
        first_block: interaction block of layer 0; None uses ``block``. The non-residual
            blocks ``"linear_nonresidual"`` (MACE-MP-0b) and ``"density_nonresidual"``
            (MPA-0, OMAT-0) are meant for this place; they have no self-connection, so the
            first product basis adds none.
        channels: node channels ``K_node``.
        max_L: highest ``l`` of the hidden node features (0–3).
        edge_channels: channels of the convolution (``K_edge``); defaults to ``channels``.
        edge_irreps_first: the first layer convolves scalars only (its input is scalar).
        max_ell: highest ``l`` of the spherical harmonics (≤ 3).
        correlation: body order of the product basis, one value or one per layer.
        num_interactions: number of message-passing layers.
        r_max: cutoff radius in Å.
        num_bessel: number of Bessel functions.
        envelope_p: order of the polynomial envelope.
        envelope_after_mlp: where the cutoff envelope multiplies, in every layer. False: on
            the radial (Bessel) features before the radial MLP (mace ``apply_cutoff=True``);
            True: on the MLP output and on the density terms of the density-normalised
            blocks (mace ``apply_cutoff=False``, MACE-MH-1). None: the default of ``block``
            (True for ``"nonlinear"``, False for the other built-in blocks).
        radial_mlp: hidden widths of the radial MLP.
        distance_transform: ``None`` or ``"agnesi"``.
        agnostic_product: element-agnostic product weights; default True for the
            non-linear block and False for the others.
        avg_num_neighbors: message normalisation of the ``"linear"`` and
            ``"linear_nonresidual"`` blocks.
        keep_last_layer_irreps: keep all hidden irreps in the last layer instead of
            scalars only.
        backend: ``"e3nn"`` or ``"cueq"``.

    ``block`` and ``first_block`` must name registered blocks (ValueError otherwise).
    """

    elements: tuple[int, ...]
    block: str = "nonlinear"
    first_block: str | None = None
    channels: int = 128
    max_L: int = 1
    edge_channels: int | None = None
    edge_irreps_first: bool = True
    max_ell: int = 3
    correlation: int | tuple[int, ...] = 3
    num_interactions: int = 2
    r_max: float = 5.0
    num_bessel: int = 8
    envelope_p: int = 5
    envelope_after_mlp: bool | None = None
    radial_mlp: tuple[int, ...] = (64, 64, 64)
    distance_transform: str | None = None
    agnostic_product: bool | None = None
    avg_num_neighbors: float = 1.0
    keep_last_layer_irreps: bool = False
    backend: str = "e3nn"

    def __post_init__(self) -> None:
        object.__setattr__(self, "elements", tuple(int(z) for z in self.elements))
        object.__setattr__(self, "radial_mlp", tuple(int(x) for x in self.radial_mlp))
        if isinstance(self.correlation, Sequence):
            object.__setattr__(self, "correlation", tuple(int(c) for c in self.correlation))
        if not self.elements:
            raise ValueError("the element table is empty")
        if len(set(self.elements)) != len(self.elements):
            raise ValueError(f"duplicate elements in {self.elements}")
        if any(not 1 <= z <= 118 for z in self.elements):
            raise ValueError(f"atomic numbers must be in 1..118: {self.elements}")
        if not 0 <= self.max_ell <= 3:
            raise ValueError(f"max_ell must be in 0..3, got {self.max_ell}")
        if self.max_L > self.max_ell:
            raise ValueError(f"max_L ({self.max_L}) cannot exceed max_ell ({self.max_ell})")
        if self.num_interactions < 1:
            raise ValueError("num_interactions must be at least 1")
        if len(self.correlations) != self.num_interactions:
            raise ValueError(
                f"{len(self.correlations)} correlation orders for "
                f"{self.num_interactions} interactions"
            )
        if self.distance_transform not in (None, "agnesi"):
            raise ValueError(f"unknown distance transform {self.distance_transform!r}")
        if self.r_max <= 0:
            raise ValueError(f"r_max must be positive, got {self.r_max}")
        if self.avg_num_neighbors <= 0:
            raise ValueError("avg_num_neighbors must be positive")
        for name in self.blocks:
            interaction_block_class(name)
        if self.envelope_after_mlp is not None and not isinstance(self.envelope_after_mlp, bool):
            raise TypeError(
                f"envelope_after_mlp must be True, False or None, got {self.envelope_after_mlp!r}"
            )

    @property
    def correlations(self) -> tuple[int, ...]:
        """Correlation order of each layer."""
        if isinstance(self.correlation, int):
            return (self.correlation,) * self.num_interactions
        return tuple(self.correlation)

    @property
    def blocks(self) -> tuple[str, ...]:
        """Interaction block name of each layer."""
        first = self.block if self.first_block is None else self.first_block
        return (first,) + (self.block,) * (self.num_interactions - 1)

    @property
    def agnostic(self) -> bool:
        """Whether the product weights are shared across elements."""
        if self.agnostic_product is None:
            return self.block == "nonlinear"
        return self.agnostic_product

    @property
    def irreps_hidden(self) -> o3.Irreps:
        """Hidden node-feature irreps."""
        return hidden_irreps(self.channels, self.max_L)

    @property
    def irreps_edge(self) -> o3.Irreps:
        """Edge (convolution) irreps of layers after the first."""
        return hidden_irreps(self.edge_channels or self.channels, self.max_L)

    def to_dict(self) -> dict:
        """Plain-JSON form (round-trips through ``from_dict``).

        ``first_block`` and ``envelope_after_mlp`` are left out while they are None, so a
        config that does not use them gives the same dictionary as before they existed.
        """
        out = dataclasses.asdict(self)
        for name in _OMITTED_WHEN_NONE:
            if out[name] is None:
                del out[name]
        out["elements"] = list(self.elements)
        out["radial_mlp"] = list(self.radial_mlp)
        if isinstance(self.correlation, tuple):
            out["correlation"] = list(self.correlation)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> BackboneConfig:
        """Build from ``to_dict`` output; unknown keys are an error, missing keys take their
        defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown backbone hyper-parameter(s): {', '.join(unknown)}")
        return cls(**data)
