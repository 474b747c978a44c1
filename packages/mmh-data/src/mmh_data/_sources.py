"""Lazy, random-access sources of configurations: one per file (extxyz, ASE db, ASE-LMDB,
mmh LMDB), and their subsets and concatenations. Nothing per structure is held in memory
beyond an index (a byte offset or a row id)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from ._configuration import Configuration
from ._convert import AtomsConverter
from ._errors import EmptyDatasetError, MalformedFileError, MissingFileError, UnknownHeadError
from ._keys import KeySpec
from ._read import ASE_DB_SUFFIXES, EXTXYZ_SUFFIXES, LMDB_SUFFIXES, connect_ase_db
from ._validate import DEFAULT_MIN_DISTANCE, check_configuration

__all__ = [
    "ConcatSource",
    "ConfigurationSource",
    "SubsetSource",
    "open_source",
    "open_sources",
]


class ConfigurationSource(Sequence):
    """Base of the lazy sources: ``len`` and random access by index, picklable (a forked or
    spawned DataLoader worker re-opens the file on first access).

    Attributes:
        path: The file (``None`` for a derived source).
    """

    path: Path | None = None

    def __iter__(self) -> Iterator[Configuration]:
        for index in range(len(self)):
            yield self[index]

    def _index(self, index: int) -> int:
        n = len(self)
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for a source of {n} structures")
        return index

    def __getitem__(self, index):  # pragma: no cover - subclasses
        raise NotImplementedError


def _slice(source: Sequence, index: slice) -> list[Configuration]:
    return [source[i] for i in range(*index.indices(len(source)))]


class _Converted(ConfigurationSource):
    """A file of ``ase.Atoms`` frames, converted one at a time with a key map."""

    def __init__(self, path: Path, converter: AtomsConverter) -> None:
        self.path = path
        self.converter = converter

    def _atoms(self, index: int):  # pragma: no cover - subclasses
        raise NotImplementedError

    def __getitem__(self, index):
        if isinstance(index, slice):
            return _slice(self, index)
        index = self._index(index)
        return self.converter.convert(self._atoms(index), file=str(self.path), frame=index)


class ExtxyzSource(_Converted):
    """An extended XYZ file, indexed by the byte offset of each frame (one pass at open)."""

    def __init__(self, path: Path, converter: AtomsConverter) -> None:
        super().__init__(path, converter)
        self._offsets = self._scan()

    def _scan(self) -> np.ndarray:
        offsets = []
        with open(self.path, "rb") as f:
            frame = 0
            while True:
                start = f.tell()
                line = f.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                try:
                    n = int(line.split()[0])
                except ValueError:
                    raise MalformedFileError(
                        f"expected the atom count of a frame, got {line[:40]!r}",
                        file=str(self.path),
                        frame=frame,
                    ) from None
                for _ in range(n + 1):
                    if not f.readline():
                        raise MalformedFileError(
                            f"the frame ends before its {n} atoms", file=str(self.path), frame=frame
                        )
                offsets.append(start)
                frame += 1
        offsets.append(os.path.getsize(self.path))
        return np.asarray(offsets, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _atoms(self, index: int):
        import ase.io

        start, stop = int(self._offsets[index]), int(self._offsets[index + 1])
        with open(self.path, "rb") as f:
            f.seek(start)
            text = f.read(stop - start).decode()
        try:
            return ase.io.read(io.StringIO(text), format="extxyz")
        except Exception as exc:  # ASE raises many types for broken text
            raise MalformedFileError(
                f"cannot parse extended XYZ: {type(exc).__name__}: {exc}",
                file=str(self.path),
                frame=index,
            ) from exc


class AseDBSource(_Converted):
    """An ASE database (``.db`` SQLite, ``.json``, or ``.aselmdb`` with the
    ``ase-db-backends`` package), indexed by row id.

    The row ids are read once at open: from the backend's id list where it keeps one (ASE-LMDB
    does, so opening 1,000,000 rows decodes none of them), else by one pass over the rows.
    """

    def __init__(self, path: Path, converter: AtomsConverter) -> None:
        super().__init__(path, converter)
        try:
            db = self._connect()
            listed = getattr(db, "ids", None)
            if isinstance(listed, list):
                ids = listed
            else:
                ids = [row.id for row in db.select(include_data=False)]
        except MalformedFileError:
            raise
        except Exception as exc:
            raise MalformedFileError(
                f"cannot read ASE database: {type(exc).__name__}: {exc}", file=str(path)
            ) from exc
        self._ids = np.asarray(ids, dtype=np.int64)

    def _connect(self):
        return connect_ase_db(self.path)

    def __len__(self) -> int:
        return len(self._ids)

    def _atoms(self, index: int):
        row_id = int(self._ids[index])
        try:
            row = self._connect().get(id=row_id)
            atoms = row.toatoms()
        except KeyError:
            raise MalformedFileError(
                f"row id {row_id} is missing from the database", file=str(self.path), frame=index
            ) from None
        except Exception as exc:
            raise MalformedFileError(
                f"cannot read database row {row_id}: {type(exc).__name__}: {exc}",
                file=str(self.path),
                frame=index,
            ) from exc
        atoms.info.update(row.key_value_pairs)
        atoms.info.update(row.get("data", {}) or {})
        return atoms


class LMDBSource(ConfigurationSource):
    """An mmh LMDB store (records hold labels, weights and head as converted).

    Args:
        path: The store.
        heads: Declared heads; a store with records of another head is an error at open
            (from its metadata).
        elements: Allowed atomic numbers (checked on access).
    """

    def __init__(
        self,
        path: Path,
        heads: Sequence[str] | None = None,
        elements: Iterable[int] | None = None,
    ) -> None:
        from ._lmdb_reader import LMDBReader

        self.path = path
        self.reader = LMDBReader(path)
        self.elements = None if elements is None else [int(z) for z in elements]
        if heads is not None:
            other = sorted(set(self.reader.metadata.get("heads", {})) - set(heads))
            if other:
                raise UnknownHeadError(
                    f"the store has records of heads {other}, not among the declared heads "
                    f"{list(heads)}",
                    file=str(path),
                    key="head",
                )

    @property
    def metadata(self) -> dict:
        """The store's metadata."""
        return self.reader.metadata

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return _slice(self, index)
        config = self.reader[self._index(index)]
        if self.elements is not None:
            check_configuration(config, min_distance=None, elements=self.elements)
        return config


class SubsetSource(ConfigurationSource):
    """The structures of ``source`` at ``indices``, in that order."""

    def __init__(self, source: Sequence[Configuration], indices: Sequence[int]) -> None:
        self.source = source
        self.indices = np.asarray(indices, dtype=np.int64)
        self.path = getattr(source, "path", None)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return _slice(self, index)
        return self.source[int(self.indices[self._index(index)])]


class ConcatSource(ConfigurationSource):
    """Several sources one after the other (e.g. the files of a head, then its
    domain-bridging structures)."""

    def __init__(self, parts: Sequence[Sequence[Configuration]]) -> None:
        self.parts = [p for p in parts if len(p)]
        self._ends = np.cumsum([len(p) for p in self.parts], dtype=np.int64)

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def __getitem__(self, index):
        if isinstance(index, slice):
            return _slice(self, index)
        index = self._index(index)
        part = int(np.searchsorted(self._ends, index, side="right"))
        start = int(self._ends[part - 1]) if part else 0
        return self.parts[part][index - start]


def open_source(
    path: str | os.PathLike,
    *,
    keys: KeySpec | None = None,
    head: str | None = None,
    heads: Sequence[str] | None = None,
    config_type_weights: Mapping[str, float] | None = None,
    elements: Iterable[int] | None = None,
    min_distance: float | None = DEFAULT_MIN_DISTANCE,
) -> ConfigurationSource:
    """A lazy, random-access source of the configurations of one file.

    The format follows the suffix, as in [`iter_configurations`][mmh_data.iter_configurations],
    and ``source[k]`` equals the ``k``-th configuration that
    [`read_configurations`][mmh_data.read_configurations] gives. Opening costs one pass over an
    extxyz file (frame offsets) or an ASE database (row ids; none for ASE-LMDB, whose backend
    lists them) and nothing for an mmh LMDB store; each access then reads and converts one
    structure, so a DataLoader worker reads only what it needs and memory does not grow with
    the file.
    Frames are validated when they are read.

    Args:
        path: The file.
        keys: Key map (ignored for mmh LMDB stores).
        head: Head of frames that carry no head key.
        heads: Declared heads.
        config_type_weights: Weight factor per ``config_type``.
        elements: Allowed atomic numbers.
        min_distance: Smallest allowed interatomic distance in Å (``None`` disables).

    Raises:
        MissingFileError: The file does not exist.
        MalformedFileError: Unknown suffix, or a file that cannot be indexed.
        EmptyDatasetError: The file holds no structures.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError("no such file", file=str(path))
    suffix = path.suffix.lower()
    if suffix in LMDB_SUFFIXES:
        source: ConfigurationSource = LMDBSource(path, heads, elements)
    else:
        converter = AtomsConverter(
            keys,
            head=head,
            heads=heads,
            config_type_weights=config_type_weights,
            elements=elements,
            min_distance=min_distance,
        )
        if suffix in EXTXYZ_SUFFIXES:
            source = ExtxyzSource(path, converter)
        elif suffix in ASE_DB_SUFFIXES:
            source = AseDBSource(path, converter)
        else:
            raise MalformedFileError(
                f"unknown file type {suffix!r}; expected one of "
                f"{EXTXYZ_SUFFIXES + ASE_DB_SUFFIXES + LMDB_SUFFIXES}",
                file=str(path),
            )
    if len(source) == 0:
        raise EmptyDatasetError("file contains no structures", file=str(path))
    return source


def open_sources(paths: Sequence[str | os.PathLike], **kwargs) -> ConfigurationSource:
    """[`open_source`][mmh_data.open_source] of each file, concatenated (same keyword arguments)."""
    if not paths:
        raise EmptyDatasetError("no input files given")
    parts = [open_source(p, **kwargs) for p in paths]
    return parts[0] if len(parts) == 1 else ConcatSource(parts)
