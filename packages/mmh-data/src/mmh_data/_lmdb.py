"""The mmh LMDB store: one file of encoded configurations plus JSON metadata."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import lmdb

from ._configuration import Configuration
from ._encoding import decode_configuration, encode_configuration
from ._errors import EmptyDatasetError, MalformedFileError, MissingFileError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "LMDBReader", "update_lmdb_metadata", "write_lmdb"]

FORMAT_NAME = "mmh-lmdb"
FORMAT_VERSION = 1
_META_KEY = b"__mmh_metadata__"
_INITIAL_MAP_SIZE = 1 << 30


def _key(index: int) -> bytes:
    return index.to_bytes(8, "big")


def write_lmdb(
    path: str | os.PathLike,
    configs: Iterable[Configuration],
    *,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    commit_every: int = 10_000,
) -> dict[str, Any]:
    """Write configurations to an mmh LMDB store (streaming; memory does not grow).

    The store is a single file (plus ``<path>-lock``). Each configuration is a raw binary
    record (see :mod:`mmh_data._encoding`); no pickle is involved anywhere. The metadata
    (format, version, count, heads, elements, source files, and any extra items such as
    the key map and statistics) is stored as JSON.

    Args:
        path: Output file, conventionally ``*.lmdb``.
        configs: Configurations to write, e.g. from :func:`iter_configurations`.
        metadata: Extra JSON-serialisable items to store (e.g. ``{"keys": {...}}``).
        overwrite: Replace an existing file.
        commit_every: Records per write transaction.

    Returns:
        The metadata that was stored.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        EmptyDatasetError: ``configs`` was empty (the partial file is removed).
    """
    path = Path(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        path.unlink()
        Path(f"{path}-lock").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(
        str(path),
        subdir=False,
        map_size=_INITIAL_MAP_SIZE,
        lock=True,
        readahead=False,
        meminit=False,
        map_async=True,
    )
    files: dict[str, int] = {}
    heads: dict[str, int] = {}
    elements: set[int] = set()
    count = 0
    pending: list[tuple[bytes, bytes]] = []

    def flush() -> None:
        while True:
            try:
                with env.begin(write=True) as txn:
                    for k, v in pending:
                        txn.put(k, v, append=True)
                break
            except lmdb.MapFullError:
                env.set_mapsize(env.info()["map_size"] * 2)
        pending.clear()

    try:
        for config in configs:
            file_id = -1
            if config.source_file is not None:
                file_id = files.setdefault(config.source_file, len(files))
            heads[config.head] = heads.get(config.head, 0) + 1
            elements.update(int(z) for z in set(config.atomic_numbers.tolist()))
            pending.append((_key(count), encode_configuration(config, file_id)))
            count += 1
            if len(pending) >= commit_every:
                flush()
        flush()
        if count == 0:
            raise EmptyDatasetError("no configurations to write", file=str(path))
        meta: dict[str, Any] = dict(metadata or {})
        meta.update(
            format=FORMAT_NAME,
            version=FORMAT_VERSION,
            count=count,
            heads=heads,
            elements=sorted(elements),
            files=list(files),
        )
        blob = json.dumps(meta).encode("utf-8")
        while True:
            try:
                with env.begin(write=True) as txn:
                    txn.put(_META_KEY, blob)
                break
            except lmdb.MapFullError:
                env.set_mapsize(env.info()["map_size"] * 2)
        env.sync(True)
    except BaseException:
        env.close()
        path.unlink(missing_ok=True)
        Path(f"{path}-lock").unlink(missing_ok=True)
        raise
    env.close()
    return meta


class LMDBReader:
    """Random and sequential access to an mmh LMDB store.

    The environment is opened lazily and re-opened after a ``fork`` (DataLoader workers),
    read-only and without locking. Every ``remap_every`` reads the memory map is closed and
    re-opened, so the pages of the file that were read do not accumulate in the resident
    set of the process while streaming a store larger than memory.

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
        self._env: lmdb.Environment | None = None
        self._txn: lmdb.Transaction | None = None
        self._pid: int | None = None
        self._reads = 0
        self.metadata = self._read_metadata()
        self._files: list[str] = list(self.metadata.get("files", []))
        self._count = int(self.metadata["count"])

    def _open(self) -> lmdb.Transaction:
        if self._txn is None or self._pid != os.getpid():
            self._env = lmdb.open(
                str(self.path),
                subdir=False,
                readonly=True,
                lock=False,
                readahead=False,
                meminit=False,
                max_readers=1024,
            )
            self._txn = self._env.begin(write=False, buffers=True)
            self._pid = os.getpid()
            self._reads = 0
        return self._txn

    def _read_metadata(self) -> dict[str, Any]:
        try:
            txn = self._open()
            blob = txn.get(_META_KEY)
        except lmdb.Error as exc:
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
        """Close the memory map (it is re-opened on the next read)."""
        if self._txn is not None:
            self._txn.abort()
        if self._env is not None and self._pid == os.getpid():
            self._env.close()
        self._txn = self._env = None

    def __enter__(self) -> LMDBReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_env=None, _txn=None, _pid=None)
        return state

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> Configuration:
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"index {index} out of range for a store of {self._count}")
        if self.remap_every is not None and self._reads >= self.remap_every:
            self.close()
        txn = self._open()
        self._reads += 1
        record = txn.get(_key(index))
        if record is None:
            raise MalformedFileError(f"record {index} is missing", file=str(self.path), frame=index)
        return decode_configuration(record, self._files, where=str(self.path))

    def __iter__(self) -> Iterator[Configuration]:
        for index in range(self._count):
            yield self[index]


def update_lmdb_metadata(path: str | os.PathLike, items: Mapping[str, Any]) -> dict[str, Any]:
    """Add or replace metadata items of an existing store (e.g. its statistics).

    Args:
        path: The store.
        items: JSON-serialisable items; the reserved items (format, version, count,
            heads, elements, files) cannot be changed.

    Returns:
        The new metadata.
    """
    reserved = {"format", "version", "count", "heads", "elements", "files"} & set(items)
    if reserved:
        raise ValueError(f"metadata items {sorted(reserved)} are managed by the store")
    with LMDBReader(path) as reader:
        meta = dict(reader.metadata)
    meta.update(items)
    blob = json.dumps(meta).encode("utf-8")
    env = lmdb.open(str(path), subdir=False, lock=True, map_size=_INITIAL_MAP_SIZE)
    try:
        size = max(env.info()["map_size"], os.path.getsize(path) + 4 * len(blob) + (1 << 20))
        env.set_mapsize(size)
        with env.begin(write=True) as txn:
            txn.put(_META_KEY, blob)
    finally:
        env.close()
    return meta
