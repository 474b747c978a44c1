"""What a head is: level of theory, dispersion, training data, free text."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["HeadMeta"]


@dataclass(frozen=True)
class HeadMeta:
    """Metadata of one head, stored in the model file beside its weights.

    Tools that pick a head (ml-peg, janus-core, a user adding D3) read it to know what the
    head predicts; nothing in the model depends on it.

    Attributes:
        level_of_theory: The reference method of the head's labels, e.g. ``"PBE"``,
            ``"r2SCAN"``, ``"ωB97M-V/def2-TZVPD"``, ``"GFN2-xTB"``.
        dispersion: ``True``: the labels include a dispersion correction (do not add D3
            on top); ``False``: they do not; ``None``: unknown.
        datasets: Names of the training datasets of the head.
        notes: Free text (units, basis set, caveats, a citation...).

    Example:
        >>> meta = HeadMeta(level_of_theory="PBE", dispersion=False, datasets=("omat",))
        >>> meta.to_dict()
        {'level_of_theory': 'PBE', 'dispersion': False, 'datasets': ['omat']}
        >>> HeadMeta.from_dict(meta.to_dict()) == meta
        True
    """

    level_of_theory: str | None = None
    dispersion: bool | None = None
    datasets: tuple[str, ...] = ()
    notes: str | None = None

    def __post_init__(self) -> None:
        if self.level_of_theory is not None and not isinstance(self.level_of_theory, str):
            raise ValueError(f"level_of_theory must be a string, got {self.level_of_theory!r}")
        if self.dispersion is not None and not isinstance(self.dispersion, bool):
            raise ValueError(f"dispersion must be true, false or null, got {self.dispersion!r}")
        if isinstance(self.datasets, str) or not isinstance(self.datasets, Sequence):
            raise ValueError(f"datasets must be a list of names, got {self.datasets!r}")
        object.__setattr__(self, "datasets", tuple(str(d) for d in self.datasets))
        if self.notes is not None and not isinstance(self.notes, str):
            raise ValueError(f"notes must be a string, got {self.notes!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, without the fields that are unset."""
        out: dict[str, Any] = {}
        if self.level_of_theory is not None:
            out["level_of_theory"] = self.level_of_theory
        if self.dispersion is not None:
            out["dispersion"] = self.dispersion
        if self.datasets:
            out["datasets"] = list(self.datasets)
        if self.notes is not None:
            out["notes"] = self.notes
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | HeadMeta) -> HeadMeta:
        """From [`to_dict`][mmh_heads.HeadMeta.to_dict] output (a `HeadMeta` is returned as it is).

        Raises:
            ValueError: An unknown key or a value of the wrong type.
        """
        if isinstance(data, HeadMeta):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"head metadata must be a mapping, got {data!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(
                f"unknown head metadata key(s) {unknown}; the keys are {', '.join(names)}"
            )
        return cls(**dict(data))

    def __bool__(self) -> bool:
        return bool(self.to_dict())
