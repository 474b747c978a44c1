"""Key maps: where in an ``ase.Atoms`` (or database row) each label of a head lives."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from ._fields import CALCULATOR_PROPERTIES, LABELS, label_field

__all__ = ["CALCULATOR_PROPERTIES", "KeySpec"]

_ENERGY, _FORCES, _STRESS = (label_field(name) for name in ("energy", "forces", "stress"))


@dataclass(frozen=True)
class KeySpec:
    """Names of the keys holding each label, for one head (or one file).

    The defaults are the keys mace users already have in their extended-XYZ files.

    Lookup rule: a label is read from ``atoms.info`` (per-structure values) or
    ``atoms.arrays`` (per-atom values) under its key. ASE's readers move the keys that are
    literally ``energy``, ``free_energy``, ``forces`` or ``stress`` into a calculator, so
    with ``use_calculator=True`` a key that is not found in ``info``/``arrays`` is looked up
    in ``atoms.calc.results`` under the same name. With the default ``use_calculator=False``
    the calculator is never consulted, and a label found only there is reported as missing
    with a hint to set ``use_calculator=True``.

    Attributes:
        energy: Total energy (eV), in ``info``.
        forces: Forces (eV/Å), ``[N, 3]`` in ``arrays``.
        stress: Stress (eV/Å³, positive = tensile) as Voigt 6 (xx yy zz yz xz xy), 3x3 or 9
            values, in ``info``.
        head: Name of the head the frame trains, in ``info``; routes the frame.
        config_type: Category of the frame, in ``info``.
        config_weight: Weight of the whole frame, in ``info``.
        energy_weight: Per-frame weight of the energy label, in ``info``.
        forces_weight: Per-frame weight of the forces label, in ``info``.
        stress_weight: Per-frame weight of the stress label, in ``info``.
        use_calculator: Also look labels up in ``atoms.calc.results`` (see above).

    Example:
        >>> KeySpec(energy="dft_energy", forces="dft_forces").stress
        'REF_stress'
        >>> KeySpec.from_calculator().energy
        'energy'
    """

    energy: str = _ENERGY.key
    forces: str = _FORCES.key
    stress: str = _STRESS.key
    head: str = "head"
    config_type: str = "config_type"
    config_weight: str = "config_weight"
    energy_weight: str = _ENERGY.weight_key
    forces_weight: str = _FORCES.weight_key
    stress_weight: str = _STRESS.weight_key
    use_calculator: bool = False

    @classmethod
    def from_calculator(cls, **overrides: str | bool) -> KeySpec:
        """Key map for files whose labels sit in an ASE calculator (ASE databases, files
        written with ``atoms.calc`` set).

        Args:
            **overrides: Any other field to change.

        Returns:
            A [`KeySpec`][mmh_data.KeySpec] with ``energy``/``forces``/``stress`` keys and
            ``use_calculator=True``.
        """
        values: dict[str, str | bool] = {f.name: f.name for f in LABELS}
        values["use_calculator"] = True
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, str | bool]) -> KeySpec:
        """Build from a mapping, rejecting unknown names.

        Args:
            data: Field names and values, e.g. ``{"energy": "E_dft"}``.

        Returns:
            The [`KeySpec`][mmh_data.KeySpec].

        Raises:
            ValueError: If a name is not a field of [`KeySpec`][mmh_data.KeySpec].
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown KeySpec field(s) {unknown}; known: {sorted(names)}")
        return cls(**data)  # type: ignore[arg-type]

    def label_key(self, name: str) -> str:
        """The key of label ``name`` (a row of [`LABELS`][mmh_data.LABELS])."""
        return getattr(self, name)

    def weight_key(self, name: str) -> str:
        """The key of the per-frame weight of label ``name``."""
        return getattr(self, f"{name}_weight")

    def to_dict(self) -> dict[str, str | bool]:
        """Return the fields as a plain dictionary (JSON-serialisable)."""
        return dataclasses.asdict(self)
