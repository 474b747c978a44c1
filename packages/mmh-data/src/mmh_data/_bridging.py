"""Domain-bridging sets: structures that carry labels for several heads at once.

A domain-bridging set (DBS, as in SevenNet-Omni) holds the same structures computed at
several levels of theory, so that the heads of a multi-head model see the *same*
geometries and their potential-energy surfaces are aligned. mmh stores a DBS as one frame
per structure with one label set per level under its own keys, e.g.::

    info["gfn1_energy"], arrays["gfn1_forces"], info["gfn1_stress"]
    info["gfn2_energy"], arrays["gfn2_forces"]

A *label map* says which keys feed which head: ``{"bulk": {"energy": "gfn1_energy",
"forces": "gfn1_forces", "stress": "gfn1_stress"}, "mol": {"energy": "gfn2_energy",
"forces": "gfn2_forces"}}``. A frame trains a head when it carries at least one of that
head's keys; a label it lacks gets weight 0. Keys must not be the bare names ``energy``,
``forces`` or ``stress`` (ASE's extended-XYZ reader moves those into a calculator).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ase import Atoms

from ._configuration import DEFAULT_CONFIG_TYPE, Configuration
from ._errors import (
    BadLabelError,
    EmptyDatasetError,
    MalformedFileError,
    MissingFileError,
    UnknownHeadError,
)
from ._fields import CALCULATOR_PROPERTIES, LABEL_NAMES, label_field, read_label
from ._keys import KeySpec
from ._validate import DEFAULT_MIN_DISTANCE, check_configuration

__all__ = [
    "BRIDGING_PROPERTIES",
    "bridging_configurations",
    "bridging_frame_count",
    "bridging_heads",
    "open_bridging_sources",
    "read_bridging_frames",
]

#: The properties a label map may name, per head: the labels of the field table.
BRIDGING_PROPERTIES = LABEL_NAMES
#: The metadata keys of a bridging frame (the defaults of the key map).
_FILE_KEYS = KeySpec()

LabelMap = Mapping[str, Mapping[str, str]]


def _check_label_map(labels: LabelMap) -> None:
    if not labels:
        raise ValueError("the label map names no head")
    for head, keys in labels.items():
        unknown = sorted(set(keys) - set(BRIDGING_PROPERTIES))
        if unknown:
            raise ValueError(
                f"head {head!r}: unknown properties {unknown}; use {list(BRIDGING_PROPERTIES)}"
            )
        if not keys:
            raise ValueError(f"head {head!r}: no label key given")
        reserved = sorted(k for k in keys.values() if k in CALCULATOR_PROPERTIES)
        if reserved:
            raise ValueError(
                f"head {head!r}: keys {reserved} are moved into a calculator by ASE's "
                "readers; name each level's labels with a prefix (gfn1_energy, ...)"
            )


def _value(atoms, key: str):
    if key in atoms.arrays:
        return atoms.arrays[key]
    return atoms.info.get(key)


def bridging_heads(atoms: Atoms, labels: LabelMap) -> list[str]:
    """The heads a frame trains: those of which it carries at least one label key.

    Args:
        atoms: The frame (``ase.Atoms``).
        labels: The label map ``{head: {property: key}}``.

    Returns:
        Head names, in the order of ``labels``.
    """
    return [
        head
        for head, keys in labels.items()
        if any(_value(atoms, k) is not None for k in keys.values())
    ]


def _weight(atoms, key: str, file, frame) -> float:
    value = atoms.info.get(key, 1.0)
    try:
        out = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError) as exc:
        raise BadLabelError(
            f"expected one number, got {value!r}", file=file, frame=frame, key=key
        ) from exc
    return out


def _reject_head_key(atoms, file, frame) -> None:
    if _FILE_KEYS.head in atoms.info:
        raise UnknownHeadError(
            "a bridging frame trains every head it has labels for; remove its 'head' key",
            file=file,
            frame=frame,
            key=_FILE_KEYS.head,
        )


def _configuration(atoms, head: str, keys, *, file, frame, weight: float) -> Configuration:
    labels = {}
    for name, key in keys.items():
        value = _value(atoms, key)
        if value is not None:
            labels[name] = read_label(
                label_field(name), value, len(atoms), file=file, frame=frame, key=key
            )
    return Configuration(
        atomic_numbers=atoms.numbers,
        positions=atoms.positions,
        cell=np.asarray(atoms.cell.array),
        pbc=np.asarray(atoms.pbc),
        weight=_weight(atoms, _FILE_KEYS.config_weight, file, frame) * weight,
        config_type=str(atoms.info.get(_FILE_KEYS.config_type, DEFAULT_CONFIG_TYPE)),
        head=head,
        source_file=file,
        source_index=frame,
        **labels,
    )


def bridging_configurations(
    frames: Iterable,
    labels: LabelMap,
    *,
    source: str | None = None,
    indices: Sequence[int] | None = None,
    weight: float = 1.0,
    elements: Iterable[int] | None = None,
    min_distance: float | None = DEFAULT_MIN_DISTANCE,
) -> dict[str, list[Configuration]]:
    """Split the frames of a domain-bridging set into per-head configurations.

    Each frame gives one [`Configuration`][mmh_data.Configuration] to every head it has labels for
    (see [`bridging_heads`][mmh_data.bridging_heads]) and to no other head, with that head's labels
    only. The config weight is the frame's ``config_weight`` (default 1) times ``weight``; a label
    the frame lacks gets weight 0.

    Args:
        frames: The frames (``ase.Atoms``).
        labels: ``{head: {property: key}}`` with properties ``energy``, ``forces``,
            ``stress``.
        source: File name used in messages and provenance.
        indices: Frame number of each frame in ``source`` (default ``0, 1, ...``).
        weight: Factor on every frame's config weight.
        elements: Allowed atomic numbers (``None``: all).
        min_distance: Smallest allowed interatomic distance in Å (``None``: no check).

    Returns:
        ``{head: configurations}`` with an entry (maybe empty) for every head of ``labels``.

    Raises:
        ValueError: A malformed label map.
        DataError: A frame with a ``head`` key (a bridging frame belongs to several heads)
            or a bad label (the message names the file, frame and key).

    Example:
        >>> from ase.build import molecule
        >>> h2 = molecule("H2"); h2.info.update(gfn1_energy=-10.9, gfn2_energy=-26.1)
        >>> out = bridging_configurations(
        ...     [h2], {"base": {"energy": "gfn1_energy"}, "mol": {"energy": "gfn2_energy"}})
        >>> base, mol = out["base"], out["mol"]
        >>> base[0].energy, mol[0].energy, mol[0].head
        (-10.9, -26.1, 'mol')
    """
    _check_label_map(labels)
    out: dict[str, list[Configuration]] = {h: [] for h in labels}
    allowed = None if elements is None else sorted(int(z) for z in elements)
    for k, atoms in enumerate(frames):
        frame = k if indices is None else int(indices[k])
        _reject_head_key(atoms, source, frame)
        for head in bridging_heads(atoms, labels):
            config = _configuration(
                atoms, head, labels[head], file=source, frame=frame, weight=weight
            )
            check_configuration(config, min_distance=min_distance, elements=allowed)
            out[head].append(config)
    return out


def read_bridging_frames(path: str | Path) -> list:
    """The frames of one bridging file (extended XYZ or ASE database) as ``ase.Atoms``.

    Raises:
        MissingFileError: The file does not exist.
        MalformedFileError: It cannot be parsed or has an unknown suffix.
        EmptyDatasetError: It holds no frames.
    """
    from ._read import ASE_DB_SUFFIXES, EXTXYZ_SUFFIXES, _iter_ase_db, _iter_extxyz

    path = Path(path)
    if not path.exists():
        raise MissingFileError("no such file", file=str(path))
    suffix = path.suffix.lower()
    if suffix in EXTXYZ_SUFFIXES:
        frames = list(_iter_extxyz(path))
    elif suffix in ASE_DB_SUFFIXES:
        frames = list(_iter_ase_db(path))
    else:
        raise MalformedFileError(
            f"unknown file type {suffix!r} for a bridging set; expected one of "
            f"{EXTXYZ_SUFFIXES + ASE_DB_SUFFIXES}",
            file=str(path),
        )
    if not frames:
        raise EmptyDatasetError("file contains no structures", file=str(path))
    return frames


class _BridgingConverter:
    """Turns a raw bridging frame into the configuration of one head (the converter
    interface of the lazy sources of `mmh_data._sources`)."""

    def __init__(self, head: str, keys, weight: float, elements, min_distance) -> None:
        self.head, self.keys, self.weight = head, dict(keys), weight
        self.elements, self.min_distance = elements, min_distance

    def convert(self, atoms, *, file: str | None = None, frame: int | None = None):
        _reject_head_key(atoms, file, frame)
        config = _configuration(
            atoms, self.head, self.keys, file=file, frame=frame, weight=self.weight
        )
        check_configuration(config, min_distance=self.min_distance, elements=self.elements)
        return config


def _raw_source(path: Path):
    from ._read import ASE_DB_SUFFIXES, EXTXYZ_SUFFIXES
    from ._sources import AseDBSource, ExtxyzSource

    path = Path(path)
    if not path.exists():
        raise MissingFileError("no such file", file=str(path))
    suffix = path.suffix.lower()
    kinds = {**dict.fromkeys(EXTXYZ_SUFFIXES, ExtxyzSource)}
    kinds.update(dict.fromkeys(ASE_DB_SUFFIXES, AseDBSource))
    if suffix not in kinds:
        raise MalformedFileError(
            f"unknown file type {suffix!r} for a bridging set; expected one of "
            f"{EXTXYZ_SUFFIXES + ASE_DB_SUFFIXES}",
            file=str(path),
        )
    return kinds[suffix](path, None)


def bridging_frame_count(path: str | Path) -> int:
    """The number of frames of a bridging file (indexing it, without reading the frames)."""
    return len(_raw_source(Path(path)))


def open_bridging_sources(
    path: str | Path,
    labels: LabelMap,
    *,
    indices: Sequence[int] | None = None,
    weight: float = 1.0,
    elements: Iterable[int] | None = None,
    min_distance: float | None = DEFAULT_MIN_DISTANCE,
) -> dict:
    """The frames of one bridging file as lazy per-head sources: what
    [`bridging_configurations`][mmh_data.bridging_configurations] gives, read one structure
    at a time.

    Opening reads every frame (of ``indices``) once to find the heads it has labels for and
    keeps only their indices, so memory does not grow with the file.

    Args:
        path: An extended XYZ file or an ASE database (``.db``, ``.json``, ``.aselmdb``).
        labels: ``{head: {property: key}}``.
        indices: The frames to use (default all), in that order.
        weight: Factor on every frame's config weight.
        elements: Allowed atomic numbers (``None``: all).
        min_distance: Smallest allowed interatomic distance in Å (``None``: no check).

    Returns:
        ``{head: ConfigurationSource}`` for every head of ``labels`` (maybe empty).

    Raises:
        ValueError: A malformed label map.
        MissingFileError, MalformedFileError: The file cannot be opened or indexed.
    """
    import copy

    from ._sources import SubsetSource

    _check_label_map(labels)
    raw = _raw_source(Path(path))
    chosen = range(len(raw)) if indices is None else [int(k) for k in indices]
    per_head: dict[str, list[int]] = {h: [] for h in labels}
    for k in chosen:
        for head in bridging_heads(raw._atoms(k), labels):
            per_head[head].append(k)
    allowed = None if elements is None else sorted(int(z) for z in elements)
    out = {}
    for head, members in per_head.items():
        source = copy.copy(raw)
        source.converter = _BridgingConverter(head, labels[head], weight, allowed, min_distance)
        out[head] = SubsetSource(source, members)
    return out
