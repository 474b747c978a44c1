"""Readers: extended XYZ, ASE databases and the mmh LMDB store, all giving
[`Configuration`][mmh_data.Configuration] objects."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from ._configuration import Configuration
from ._convert import AtomsConverter
from ._errors import EmptyDatasetError, MalformedFileError, MissingFileError, UnknownHeadError
from ._keys import KeySpec
from ._validate import DEFAULT_MIN_DISTANCE, check_configuration

__all__ = [
    "ASE_DB_SUFFIXES",
    "EXTXYZ_SUFFIXES",
    "LMDB_SUFFIXES",
    "iter_configurations",
    "read_configurations",
]

EXTXYZ_SUFFIXES = (".xyz", ".extxyz")
ASE_DB_SUFFIXES = (".db", ".json", ".aselmdb")
LMDB_SUFFIXES = (".lmdb",)

PathLike = str | os.PathLike


def _as_paths(source: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        return [Path(source)]
    return [Path(p) for p in source]


def _iter_extxyz(path: Path) -> Iterator:
    import ase.io

    frames = ase.io.iread(str(path), index=":", format="extxyz")
    index = 0
    while True:
        try:
            atoms = next(frames)
        except StopIteration:
            return
        except Exception as exc:  # ASE raises many types for broken text
            raise MalformedFileError(
                f"cannot parse extended XYZ: {type(exc).__name__}: {exc}",
                file=str(path),
                frame=index,
            ) from exc
        yield atoms
        index += 1


#: open ASE database connections by file, with the process that opened them. LMDB refuses to
#: open one file twice in a process, so every reader and source of a file shares one; and no
#: connection crosses a fork (DataLoader workers): they are closed before it, and each process
#: opens its own on first use.
_ASE_DB_CONNECTIONS: dict[str, tuple[int, object]] = {}


def _close_ase_db_connections() -> None:
    for key, (pid, db) in list(_ASE_DB_CONNECTIONS.items()):
        if pid == os.getpid():
            close = getattr(db, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing is best effort; the entry goes either way
                    pass
        del _ASE_DB_CONNECTIONS[key]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_close_ase_db_connections)


def connect_ase_db(path: Path):
    """This process's ``ase.db`` connection to ``path`` (read-only use, no lock file), shared
    by every reader and source of the file."""
    import ase.db

    key = str(Path(path).resolve())
    entry = _ASE_DB_CONNECTIONS.get(key)
    if entry is not None and entry[0] == os.getpid():
        return entry[1]
    try:
        db = ase.db.connect(str(path), use_lock_file=False)
    except ImportError as exc:
        raise MalformedFileError(
            f"reading {path.suffix} databases needs an extra package ({exc}); for .aselmdb "
            "install 'ase-db-backends' (mmh-data[aselmdb])",
            file=str(path),
        ) from exc
    _ASE_DB_CONNECTIONS[key] = (os.getpid(), db)
    return db


def _iter_ase_db(path: Path) -> Iterator:
    db = connect_ase_db(path)
    try:
        rows = db.select()
        for index, row in enumerate(rows):
            try:
                atoms = row.toatoms()
            except Exception as exc:
                raise MalformedFileError(
                    f"cannot read database row: {type(exc).__name__}: {exc}",
                    file=str(path),
                    frame=index,
                ) from exc
            atoms.info.update(row.key_value_pairs)
            atoms.info.update(row.get("data", {}) or {})
            yield atoms
    except MalformedFileError:
        raise
    except Exception as exc:
        raise MalformedFileError(
            f"cannot read ASE database: {type(exc).__name__}: {exc}", file=str(path)
        ) from exc


def _iter_lmdb(path: Path, heads, elements) -> Iterator[Configuration]:
    from ._lmdb_reader import LMDBReader

    with LMDBReader(path) as reader:
        for config in reader:
            if heads is not None and config.head not in heads:
                raise UnknownHeadError(
                    f"stored frame has head {config.head!r} which is not among the declared "
                    f"heads {list(heads)}",
                    file=str(path),
                    frame=config.source_index,
                    key="head",
                )
            if elements is not None:
                # distances were checked when the store was written
                check_configuration(config, min_distance=None, elements=elements)
            yield config


def iter_configurations(
    source: PathLike | Sequence[PathLike],
    *,
    keys: KeySpec | None = None,
    head: str | None = None,
    heads: Sequence[str] | None = None,
    config_type_weights: Mapping[str, float] | None = None,
    elements: Iterable[int] | None = None,
    min_distance: float | None = DEFAULT_MIN_DISTANCE,
) -> Iterator[Configuration]:
    """Read configurations lazily from one or several files.

    The format follows the suffix: ``.xyz``/``.extxyz`` (extended XYZ), ``.db``/``.json``
    (ASE database; ``.aselmdb`` too when the ``ase-db-backends`` package is installed) and
    ``.lmdb`` (the mmh store written by [`write_lmdb`][mmh_data.write_lmdb]). Missing-label warnings
    are emitted once per ``(head, key)`` when the iterator is exhausted.

    Args:
        source: A path or a list of paths.
        keys: Key map of the files. Ignored for ``.lmdb`` stores, whose records hold labels,
            weights and head as they were converted (so are ``head`` and
            ``config_type_weights``).
        head: Head of frames that carry no head key (``"Default"`` when ``None``).
        heads: Declared heads; any other head name is an error.
        config_type_weights: Weight factor per ``config_type``.
        elements: Allowed atomic numbers.
        min_distance: Smallest allowed interatomic distance in Å (``None`` disables).

    Yields:
        [`Configuration`][mmh_data.Configuration] objects with ``source_file`` and ``source_index``
        set.

    Raises:
        MissingFileError: A path does not exist.
        MalformedFileError: A file cannot be parsed (names the frame).
        EmptyDatasetError: A file holds no frames.
        DataError: Any other invalid frame (unknown head, NaN label, close atoms...).
    """
    paths = _as_paths(source)
    if not paths:
        raise EmptyDatasetError("no input files given")
    converter = AtomsConverter(
        keys,
        head=head,
        heads=heads,
        config_type_weights=config_type_weights,
        elements=elements,
        min_distance=min_distance,
    )
    for path in paths:
        if not path.exists():
            raise MissingFileError("no such file", file=str(path))
        suffix = path.suffix.lower()
        count = 0
        if suffix in LMDB_SUFFIXES:
            frames = _iter_lmdb(path, heads, elements)
            for config in frames:
                count += 1
                yield config
        else:
            if suffix in EXTXYZ_SUFFIXES:
                atoms_iter = _iter_extxyz(path)
            elif suffix in ASE_DB_SUFFIXES:
                atoms_iter = _iter_ase_db(path)
            else:
                raise MalformedFileError(
                    f"unknown file type {suffix!r}; expected one of "
                    f"{EXTXYZ_SUFFIXES + ASE_DB_SUFFIXES + LMDB_SUFFIXES}",
                    file=str(path),
                )
            for config in converter.iter_convert(atoms_iter, file=str(path)):
                count += 1
                yield config
        if count == 0:
            raise EmptyDatasetError("file contains no structures", file=str(path))
    converter.finish()


def read_configurations(
    source: PathLike | Sequence[PathLike],
    *,
    keys: KeySpec | None = None,
    head: str | None = None,
    heads: Sequence[str] | None = None,
    config_type_weights: Mapping[str, float] | None = None,
    elements: Iterable[int] | None = None,
    min_distance: float | None = DEFAULT_MIN_DISTANCE,
) -> list[Configuration]:
    """Read all configurations of one or several files into a list.

    See [`iter_configurations`][mmh_data.iter_configurations] for the formats, arguments and errors.
    To convert ``ase.Atoms`` already in memory use
    [`configurations_from_atoms`][mmh_data.configurations_from_atoms].

    Example:
        >>> configs = read_configurations(["pbe.xyz"], head="pbe", heads=["pbe", "r2scan"])
        ... # doctest: +SKIP

    Returns:
        The configurations, in file order.
    """
    return list(
        iter_configurations(
            source,
            keys=keys,
            head=head,
            heads=heads,
            config_type_weights=config_type_weights,
            elements=elements,
            min_distance=min_distance,
        )
    )
