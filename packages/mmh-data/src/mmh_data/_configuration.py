"""The one in-memory representation of a labelled structure: [`mmh_data.Configuration`][]."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ._errors import BadLabelError
from ._fields import LABELS, read_label

__all__ = ["DEFAULT_CONFIG_TYPE", "DEFAULT_HEAD", "Configuration"]

DEFAULT_HEAD = "Default"
DEFAULT_CONFIG_TYPE = "Default"


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _finite(array: np.ndarray) -> bool:
    # One reduction instead of isfinite + all: the sum of finite float64 values of
    # physical size is finite, and any NaN or inf makes it non-finite.
    return math.isfinite(float(array.sum()))


@dataclass(frozen=True, eq=False)
class Configuration:
    """One labelled structure, in numpy arrays, as read from a file.

    The labels are the rows of [`LABELS`][mmh_data.LABELS] (the field table), each with
    its weight. Units are eV, Å, eV/Å and eV/Å³. Stress follows the ASE sign convention (positive =
    tensile) and is stored as a 3x3 matrix. Any label may be ``None``; a missing label
    always has weight 0 (this is enforced on construction, so a missing label can never
    enter a loss with a non-zero weight).

    Attributes:
        atomic_numbers: ``[N]`` int64.
        positions: ``[N, 3]`` float64, Å.
        cell: ``[3, 3]`` float64, rows are the lattice vectors; zeros when there is no cell.
        pbc: ``[3]`` bool.
        energy: Total energy in eV, or ``None``.
        forces: ``[N, 3]`` float64 in eV/Å, or ``None``.
        stress: ``[3, 3]`` float64 in eV/Å³, or ``None``.
        weight: Weight of the whole configuration in the loss.
        energy_weight: Weight of the energy label (0 when ``energy`` is ``None``).
        forces_weight: Weight of the forces label (0 when ``forces`` is ``None``).
        stress_weight: Weight of the stress label (0 when ``stress`` is ``None``).
        config_type: Free-form category, e.g. ``"IsolatedAtom"``.
        head: Name of the head this structure trains.
        source_file: File the structure was read from, if any.
        source_index: Index of the frame inside ``source_file``, if any.

    Example:
        >>> import numpy as np
        >>> c = Configuration(atomic_numbers=[1, 1], positions=[[0, 0, 0], [0, 0, 0.74]],
        ...                   energy=-31.7)
        >>> c.num_atoms, c.forces_weight
        (2, 0.0)
    """

    atomic_numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    weight: float = 1.0
    energy_weight: float = 1.0
    forces_weight: float = 1.0
    stress_weight: float = 1.0
    config_type: str = DEFAULT_CONFIG_TYPE
    head: str = DEFAULT_HEAD
    source_file: str | None = None
    source_index: int | None = None

    def __post_init__(self) -> None:
        loc = {"file": self.source_file, "frame": self.source_index}
        z = np.ascontiguousarray(self.atomic_numbers, dtype=np.int64).reshape(-1)
        n = z.shape[0]
        pos = np.ascontiguousarray(self.positions, dtype=np.float64)
        if pos.shape != (n, 3):
            raise BadLabelError(f"positions have shape {pos.shape}, expected ({n}, 3)", **loc)
        if not _finite(pos):
            raise BadLabelError("positions contain NaN or infinite values", **loc)
        cell = np.zeros((3, 3)) if self.cell is None else self.cell
        cell = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
        pbc = np.zeros(3, dtype=bool) if self.pbc is None else np.array(self.pbc, dtype=bool)
        if pbc.shape != (3,):
            if pbc.size != 1:
                raise BadLabelError(f"pbc has shape {pbc.shape}, expected (3,)", **loc)
            pbc = np.repeat(pbc.reshape(1), 3)
        if not _finite(cell):
            raise BadLabelError("cell contains NaN or infinite values", **loc)
        _set(self, "atomic_numbers", z)
        _set(self, "positions", pos)
        _set(self, "cell", cell)
        _set(self, "pbc", pbc)
        for field in LABELS:
            value = getattr(self, field.name)
            if value is not None:
                value = read_label(field, value, n, key=field.name, **loc)
                _set(self, field.name, value)
            w = 0.0 if value is None else float(getattr(self, field.weight_name))
            if not math.isfinite(w) or w < 0:
                raise BadLabelError(f"{field.name} weight is {w}", key=field.weight_name, **loc)
            _set(self, field.weight_name, w)
        weight = float(self.weight)
        if not math.isfinite(weight) or weight < 0:
            raise BadLabelError(f"config weight is {weight}", key="weight", **loc)
        _set(self, "weight", weight)
        _set(self, "config_type", str(self.config_type))
        _set(self, "head", str(self.head))

    @classmethod
    def _trusted(cls, **fields: object) -> Configuration:
        """Build without validation, from arrays already of the right dtype and shape
        (used when decoding records that were validated when written)."""
        config = object.__new__(cls)
        config.__dict__.update(_DEFAULTS)
        config.__dict__.update(fields)
        return config

    @property
    def num_atoms(self) -> int:
        """Number of atoms."""
        return int(self.atomic_numbers.shape[0])

    @property
    def is_periodic(self) -> bool:
        """Whether any direction is periodic."""
        return bool(self.pbc.any())

    @property
    def location(self) -> str:
        """``"file 'x.xyz', frame 3"`` (for messages)."""
        from ._errors import where

        return where(self.source_file, self.source_index)

    def replace(self, **changes: object) -> Configuration:
        """Return a copy with some fields changed (the copy is validated again).

        Args:
            **changes: Field names and their new values.

        Returns:
            A new [`Configuration`][mmh_data.Configuration].
        """
        return dataclasses.replace(self, **changes)

    def to_atoms(self) -> Atoms:
        """Convert to an `ase.Atoms` with labels in ``REF_*`` info/arrays keys.

        Returns:
            The atoms, with each label of [`LABELS`][mmh_data.LABELS] under its default key
            (``info["REF_energy"]``, ``arrays["REF_forces"]``, ``info["REF_stress"]`` as
            Voigt 6), ``info["head"]``, ``info["config_type"]`` and ``info["config_weight"]``
            set, and ``info["config_<label>_weight"]`` where a label's weight is not 1.
        """
        atoms = Atoms(
            numbers=self.atomic_numbers, positions=self.positions, cell=self.cell, pbc=self.pbc
        )
        for field in LABELS:
            value = getattr(self, field.name)
            if value is None:
                continue
            store = atoms.arrays if field.per_atom else atoms.info
            store[field.key] = field.to_file(value)
            weight = getattr(self, field.weight_name)
            if weight != 1.0:
                atoms.info[field.weight_key] = weight
        atoms.info["head"] = self.head
        atoms.info["config_type"] = self.config_type
        atoms.info["config_weight"] = self.weight
        return atoms


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Configuration)}
