"""Hyper-parameters of the multi-head model."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from mmh_layers import BackboneConfig

from ._meta import HeadMeta


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters and per-head constants of [`MultiHeadMACE`][mmh_heads.MultiHeadMACE].

    Attributes:
        backbone: The backbone hyper-parameters (its ``elements`` is the element table).
        heads: Head names, in model order (a graph's ``head`` index points into this).
        readout_hidden: Hidden units of the last-layer MLP readout, one value for every
            head or one per head.
        e0s: Per-head isolated-atom reference energies ``{head: {Z: E0}}`` in eV. A head
            that is absent gets zeros; a head that is present must give every element.
        scale: Per-head scale of the interaction energy ``{head: scale}`` (default 1).
        shift: Per-head per-atom shift ``{head: shift}`` in eV (default 0).
        zbl: Add the ZBL pair repulsion to the interaction energy.
        zbl_p: Order of the ZBL envelope.
        readout_silu_norm: Normalisation constant of the SiLU of the MLP readouts; None
            means mmh's own (``mmh_heads.HeadReadout``). A model imported from mace-torch
            keeps the Monte-Carlo constant its file stores.
        head_meta: What each head is ``{head: HeadMeta}`` (level of theory, dispersion,
            datasets, notes); heads without metadata are absent. Mappings are converted.

    Example:
        >>> from mmh_layers import BackboneConfig
        >>> cfg = ModelConfig(BackboneConfig(elements=(1, 8), channels=8), heads=("pbe",))
        >>> cfg.hidden_of("pbe")
        16
    """

    backbone: BackboneConfig
    heads: tuple[str, ...] = ("Default",)
    readout_hidden: int | tuple[int, ...] = 16
    e0s: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    scale: Mapping[str, float] = field(default_factory=dict)
    shift: Mapping[str, float] = field(default_factory=dict)
    zbl: bool = False
    zbl_p: int = 6
    readout_silu_norm: float | None = None
    head_meta: Mapping[str, HeadMeta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        heads = tuple(str(h) for h in self.heads)
        object.__setattr__(self, "heads", heads)
        if not heads or len(set(heads)) != len(heads):
            raise ValueError(f"heads must be a non-empty list of distinct names, got {heads}")
        hidden = self.readout_hidden
        if isinstance(hidden, int):
            hidden = (hidden,) * len(heads)
        hidden = tuple(int(h) for h in hidden)
        if len(hidden) != len(heads) or any(h < 1 for h in hidden):
            raise ValueError(
                f"readout_hidden must be a positive int or one per head ({len(heads)}), "
                f"got {self.readout_hidden}"
            )
        object.__setattr__(self, "readout_hidden", hidden)
        elements = set(self.backbone.elements)
        e0s = {}
        for head, table in self.e0s.items():
            if head not in heads:
                raise ValueError(f"E0s given for unknown head {head!r}; heads are {heads}")
            table = {int(z): float(e) for z, e in table.items()}
            missing = sorted(elements - set(table))
            extra = sorted(set(table) - elements)
            if missing or extra:
                raise ValueError(
                    f"E0s of head {head!r} must cover exactly the element table "
                    f"{sorted(elements)}: missing {missing}, not in the table {extra}"
                )
            e0s[head] = dict(sorted(table.items()))
        object.__setattr__(self, "e0s", e0s)
        for name in ("scale", "shift"):
            values = {str(h): float(v) for h, v in getattr(self, name).items()}
            unknown = sorted(set(values) - set(heads))
            if unknown:
                raise ValueError(f"{name} given for unknown head(s) {unknown}; heads are {heads}")
            object.__setattr__(self, name, values)
        meta = {}
        for head, value in self.head_meta.items():
            if head not in heads:
                raise ValueError(f"head_meta given for unknown head {head!r}; heads are {heads}")
            value = HeadMeta.from_dict(value)
            if value:
                meta[str(head)] = value
        object.__setattr__(self, "head_meta", meta)

    def hidden_of(self, head: str) -> int:
        """Hidden size of the MLP readout of ``head``."""
        return self.readout_hidden[self.heads.index(head)]

    def to_dict(self) -> dict:
        """Plain-JSON form (round-trips through [`from_dict`][mmh_heads.ModelConfig.from_dict])."""
        out = {
            "backbone": self.backbone.to_dict(),
            "heads": list(self.heads),
            "readout_hidden": list(self.readout_hidden),
            "e0s": {h: {str(z): e for z, e in t.items()} for h, t in self.e0s.items()},
            "scale": dict(self.scale),
            "shift": dict(self.shift),
            "zbl": self.zbl,
            "zbl_p": self.zbl_p,
        }
        if self.readout_silu_norm is not None:  # absent from files of models trained by mmh
            out["readout_silu_norm"] = self.readout_silu_norm
        if self.head_meta:  # absent from files written before head metadata existed
            out["head_meta"] = {h: m.to_dict() for h, m in self.head_meta.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> ModelConfig:
        """From [`to_dict`][mmh_heads.ModelConfig.to_dict] output; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown model hyper-parameter(s): {', '.join(unknown)}")
        data = dict(data)
        data["backbone"] = BackboneConfig.from_dict(dict(data["backbone"]))
        if "heads" in data:
            data["heads"] = tuple(data["heads"])
        if isinstance(data.get("readout_hidden"), list):
            data["readout_hidden"] = tuple(data["readout_hidden"])
        if "e0s" in data:
            data["e0s"] = {h: {int(z): e for z, e in t.items()} for h, t in data["e0s"].items()}
        return cls(**data)
