"""The field table of a labelled structure: the one list of labels that every stage uses.

A labelled structure has *structural* fields (``atomic_numbers``, ``positions``, ``cell``,
``pbc``), *metadata* (``weight``, ``config_type``, ``head``, provenance) and *labels*. Each
label is one [`LabelField`][mmh_data.LabelField] row of [`LABELS`][mmh_data.LABELS]; the
readers (the key map and its defaults, the ASE converter, the domain-bridging converter),
[`Configuration`][mmh_data.Configuration] validation and its ``to_atoms``, the LMDB record
encoding, dataset generation, graphs and batches, the training loss and the error metrics
all iterate over this table. A label carries a per-structure weight ``<name>_weight`` (key
``config_<name>_weight`` in files), which is 0 whenever the label is missing.

| name     | per       | shape  | unit   | default key  | metric             |
|----------|-----------|--------|--------|--------------|--------------------|
| energy   | structure | ()     | eV     | `REF_energy` | per atom, meV/atom |
| forces   | atom      | (3,)   | eV/Å   | `REF_forces` | per component, meV/Å |
| stress   | structure | (3, 3) | eV/Å³  | `REF_stress` | per component (9), meV/Å³ |

Stress follows ASE's sign (positive = tensile). In files it may be Voigt 6 (xx yy zz yz xz
xy), 9 values or 3×3; in memory it is always the 3×3 matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._errors import BadLabelError

__all__ = [
    "CALCULATOR_PROPERTIES",
    "LABELS",
    "LABEL_NAMES",
    "LabelField",
    "label_field",
    "matrix_to_voigt",
    "read_label",
    "voigt_to_matrix",
]


def voigt_to_matrix(value: np.ndarray) -> np.ndarray:
    """Stress as a 3x3 matrix from Voigt 6 (xx yy zz yz xz xy), 9 values or 3x3.

    Args:
        value: 6, 9 or 3x3 numbers.

    Returns:
        The ``[3, 3]`` matrix.

    Raises:
        ValueError: For any other number of values.
    """
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.size == 6:
        xx, yy, zz, yz, xz, xy = v
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    if v.size == 9:
        return v.reshape(3, 3)
    raise ValueError(f"stress needs 6 (Voigt) or 9 values, got {v.size}")


def matrix_to_voigt(value: np.ndarray) -> np.ndarray:
    """Voigt 6 (xx yy zz yz xz xy) of a 3x3 stress (the exact inverse of
    [`voigt_to_matrix`][mmh_data.voigt_to_matrix] on symmetric matrices)."""
    s = np.asarray(value, dtype=np.float64).reshape(3, 3)
    return np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])


def _scalar(value: object, num_atoms: int) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise ValueError(f"must be one number, got shape {arr.shape}")
    return float(arr.reshape(-1)[0])


def _per_atom_vector(value: object, num_atoms: int) -> np.ndarray:
    arr = np.ascontiguousarray(value, dtype=np.float64)
    if arr.shape != (num_atoms, 3):
        raise ValueError(f"shape {arr.shape}, expected ({num_atoms}, 3)")
    return arr


def _tensor(value: object, num_atoms: int) -> np.ndarray:
    return np.ascontiguousarray(voigt_to_matrix(value))


def _identity(value: np.ndarray) -> np.ndarray:
    return value.copy()


@dataclass(frozen=True)
class LabelField:
    """One label of a structure.

    Attributes:
        name: Attribute name on [`Configuration`][mmh_data.Configuration],
            [`AtomicGraph`][mmh_data.AtomicGraph] and [`Batch`][mmh_data.Batch], key of the model's
            output, and property name of ASE calculators.
        per_atom: One value per atom (stored under ``atoms.arrays``) rather than one per
            structure (``atoms.info``).
        shape: Shape of one value (of one atom's value when ``per_atom``), in memory.
        unit: Unit in memory and in files.
        key: Default key in files (the mace convention).
        metric_unit: Unit of its MAE and RMSE.
        per_atom_metric: Whether its error is divided by the number of atoms (energy).
        warn_missing: Whether readers warn when frames lack it (not for stress, which
            molecules never have).
        parse: ``parse(value, num_atoms)`` turns a value read from a file into the in-memory
            form, raising ``ValueError`` with a message on a wrong shape.
        to_file: The value as written to an ``ase.Atoms`` (Voigt 6 for stress).
    """

    name: str
    per_atom: bool
    shape: tuple[int, ...]
    unit: str
    key: str
    metric_unit: str
    per_atom_metric: bool
    warn_missing: bool
    parse: Callable[[object, int], object]
    to_file: Callable[[object], object]

    @property
    def weight_name(self) -> str:
        """Name of its per-structure weight (``energy_weight``...)."""
        return f"{self.name}_weight"

    @property
    def weight_key(self) -> str:
        """Default file key of its per-structure weight (``config_energy_weight``...)."""
        return f"config_{self.name}_weight"

    def value_shape(self, num_atoms: int) -> tuple[int, ...]:
        """The shape of the label of a structure of ``num_atoms`` atoms."""
        return (num_atoms, *self.shape) if self.per_atom else self.shape

    def components(self, num_atoms: int) -> int:
        """The number of values its metric counts per structure (1, 3N, 9)."""
        return int(np.prod(self.value_shape(num_atoms), dtype=np.int64))


LABELS: tuple[LabelField, ...] = (
    LabelField(
        name="energy",
        per_atom=False,
        shape=(),
        unit="eV",
        key="REF_energy",
        metric_unit="meV/atom",
        per_atom_metric=True,
        warn_missing=True,
        parse=_scalar,
        to_file=float,
    ),
    LabelField(
        name="forces",
        per_atom=True,
        shape=(3,),
        unit="eV/Å",
        key="REF_forces",
        metric_unit="meV/Å",
        per_atom_metric=False,
        warn_missing=True,
        parse=_per_atom_vector,
        to_file=_identity,
    ),
    LabelField(
        name="stress",
        per_atom=False,
        shape=(3, 3),
        unit="eV/Å³",
        key="REF_stress",
        metric_unit="meV/Å³",
        per_atom_metric=False,
        warn_missing=False,
        parse=_tensor,
        to_file=matrix_to_voigt,
    ),
)
"""The labels of a structure (energy, forces, stress), in the order every stage uses."""

#: The label names, in table order.
LABEL_NAMES: tuple[str, ...] = tuple(f.name for f in LABELS)

#: Names that ASE's extended-XYZ reader and databases move into ``atoms.calc.results``
#: (the labels, and ``free_energy``).
CALCULATOR_PROPERTIES: tuple[str, ...] = ("energy", "free_energy", "forces", "stress")

_BY_NAME = {f.name: f for f in LABELS}


def label_field(name: str) -> LabelField:
    """The row of [`LABELS`][mmh_data.LABELS] called ``name``.

    Raises:
        KeyError: If there is no such label (the message lists the labels).
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no label {name!r}; the labels are {list(LABEL_NAMES)}") from None


def read_label(
    field: LabelField,
    value: object,
    num_atoms: int,
    *,
    file: str | None = None,
    frame: int | None = None,
    key: str | None = None,
) -> object:
    """A label value from a file, in its in-memory form, checked.

    Args:
        field: The label.
        value: What the file holds under the label's key.
        num_atoms: Atoms of the structure.
        file, frame, key: Where it was read (for the message).

    Returns:
        A float (per-structure scalars) or a float64 array of ``field.value_shape``.

    Raises:
        BadLabelError: A value that is not numeric, has the wrong shape or is not finite,
            naming the file, frame and key.
    """
    key = field.name if key is None else key
    try:
        np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadLabelError(f"not numeric: {value!r}", file=file, frame=frame, key=key) from exc
    try:
        out = field.parse(value, num_atoms)
    except ValueError as exc:
        raise BadLabelError(f"{field.name} {exc}", file=file, frame=frame, key=key) from exc
    # One reduction instead of isfinite + all: a sum of finite values of physical size is
    # finite, and any NaN or inf makes it non-finite.
    if not math.isfinite(float(np.sum(out))):
        raise BadLabelError(
            f"{field.name} contains NaN or infinite values", file=file, frame=frame, key=key
        )
    return out
