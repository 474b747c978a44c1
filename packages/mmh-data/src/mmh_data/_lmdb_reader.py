"""Reading the mmh LMDB store: one shared memory map per file and process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmdb

from ._configuration import Configuration
from ._encoding import decode_configuration
from ._errors import MalformedFileError, MissingFileError
from ._lmdb import FORMAT_NAME, FORMAT_VERSION, META_KEY, record_key

__all__ = ["LMDBReader", "release_environment"]


@dataclass
class _Entry:
    pid: int
    env: lmdb.Environment | None
    generation: int


# LMDB allows one open environment per file and process, so all readers of a file share
# one. A forked child (DataLoader worker) inherits the parent's entry, drops it and opens
# its own; ``generation`` tells readers that their transaction belongs to an old map.
_ENVIRONMENTS: dict[str, _Entry] = {}


def _open_environment(path: str) -> lmdb.Environment:
    return lmdb.open(
        path,
        subdir=False,
        readonly=True,
        lock=False,
        readahead=False,
        meminit=False,
        max_readers=1024,
    )


def _entry(path: str, reopen: bool = False) -> _Entry:
    entry = _ENVIRONMENTS.get(path)
    pid = os.getpid()
    if entry is not None and (entry.pid != pid or reopen or entry.env is None):
        if entry.env is not None:
            # Inherited across fork, or being remapped: unmap it. Read-only and
            # lock-free, so this touches no shared state.
            entry.env.close()
        entry.env = _open_environment(path)
        entry.pid = pid
        entry.generation += 1
    elif entry is None:
        entry = _ENVIRONMENTS[path] = _Entry(pid, _open_environment(path), 0)
    return entry


def release_environment(path: str | os.PathLike) -> None:
    """Close this process's shared memory map of a store (e.g. before writing to it)."""
    entry = _ENVIRONMENTS.pop(os.path.realpath(path), None)
    if entry is not None and entry.env is not None and entry.pid == os.getpid():
        entry.env.close()


class LMDBReader:
    """Random and sequential access to an mmh LMDB store.

    The file is memory-mapped read-only, without locks, lazily and once per process (a
    forked DataLoader worker opens its own map). Every ``remap_every`` reads the map is
    closed and re-opened, so the pages already read do not pile up in the resident set of
    a process that streams a store larger than memory. Not thread-safe: use one reader per
    thread, or processes.

    Args:
        path: The store.
        remap_every: Reads between re-opening the memory map (``None``: never).

    Example:
        >>> with LMDBReader("train.lmdb") as store:  # doctest: +SKIP
        ...     print(len(store), store.metadata["heads"])
    """

    def __init__(self, path: str | os.PathLike, *, remap_every: int | None = 100_000) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise MissingFileError("no such file", file=str(self.path))
        self.remap_every = remap_every
        self._key = os.path.realpath(self.path)
        self._txn: lmdb.Transaction | None = None
        self._env: lmdb.Environment | None = None
        self._generation = -1
        self._pid: int | None = None
        self._reads = 0
        self.metadata = self._read_metadata()
        self._files: list[str] = list(self.metadata.get("files", []))
        self._count = int(self.metadata["count"])

    def _transaction(self) -> lmdb.Transaction:
        entry = _entry(self._key)
        if (
            self._txn is None
            or entry.generation != self._generation
            or self._pid != entry.pid
            or entry.env is not self._env
        ):
            # a new map: re-opened, forked, or released (e.g. to update the metadata)
            assert entry.env is not None
            self._txn = entry.env.begin(write=False, buffers=True)
            self._generation = entry.generation
            self._pid = entry.pid
            self._env = entry.env
        return self._txn

    def _read_metadata(self) -> dict[str, Any]:
        try:
            blob = self._transaction().get(META_KEY)
        except lmdb.Error as exc:
            _ENVIRONMENTS.pop(self._key, None)
            raise MalformedFileError(f"not an LMDB file: {exc}", file=str(self.path)) from exc
        if blob is None:
            raise MalformedFileError("LMDB file has no mmh metadata", file=str(self.path))
        meta = json.loads(bytes(blob).decode("utf-8"))
        if meta.get("format") != FORMAT_NAME:
            raise MalformedFileError(
                f"format {meta.get('format')!r} is not {FORMAT_NAME!r}", file=str(self.path)
            )
        if int(meta.get("version", -1)) > FORMAT_VERSION:
            raise MalformedFileError(
                f"store version {meta['version']} is newer than this mmh-data understands "
                f"({FORMAT_VERSION}); upgrade mmh-data",
                file=str(self.path),
            )
        return meta

    def close(self) -> None:
        """End this reader's transaction (the shared map stays open for other readers)."""
        if self._txn is not None and self._pid == os.getpid():
            entry = _ENVIRONMENTS.get(self._key)
            if (
                entry is not None
                and entry.generation == self._generation
                and entry.env is self._env
            ):
                self._txn.abort()
        self._txn = None

    def remap(self) -> None:
        """Close and re-open this process's memory map of the file now."""
        self.close()
        _entry(self._key, reopen=True)
        self._reads = 0

    def __enter__(self) -> LMDBReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_txn=None, _pid=None, _generation=-1, _env=None)
        return state

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> Configuration:
        index = int(index)
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"index {index} out of range for a store of {self._count}")
        if self.remap_every is not None and self._reads >= self.remap_every:
            self.remap()
        self._reads += 1
        record = self._transaction().get(record_key(index))
        if record is None:
            raise MalformedFileError(f"record {index} is missing", file=str(self.path), frame=index)
        try:
            return decode_configuration(record, self._files, where=str(self.path))
        except MalformedFileError as exc:
            if exc.frame is not None:
                raise
            raise MalformedFileError(
                f"record {index}: {str(exc).split(': ', 1)[-1]}", file=str(self.path), frame=index
            ) from exc

    def __iter__(self) -> Iterator[Configuration]:
        for index in range(self._count):
            yield self[index]
