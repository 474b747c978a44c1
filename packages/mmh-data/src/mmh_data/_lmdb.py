"""The mmh LMDB store: one file of encoded configurations plus JSON metadata."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import lmdb

from ._configuration import Configuration
from ._encoding import encode_configuration
from ._errors import EmptyDatasetError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "update_lmdb_metadata", "write_lmdb"]

FORMAT_NAME = "mmh-lmdb"
FORMAT_VERSION = 1
META_KEY = b"__mmh_metadata__"
_INITIAL_MAP_SIZE = 1 << 30


def record_key(index: int) -> bytes:
    return int(index).to_bytes(8, "big")


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
    record (see `mmh_data._encoding`); no pickle is involved anywhere. The metadata
    (format, version, count, heads, elements, source files, and any extra items such as
    the key map and statistics) is stored as JSON.

    Args:
        path: Output file, conventionally ``*.lmdb``.
        configs: Configurations to write, e.g. from
            [`iter_configurations`][mmh_data.iter_configurations].
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
        from ._lmdb_reader import release_environment

        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        release_environment(path)
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
            pending.append((record_key(count), encode_configuration(config, file_id)))
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
                    txn.put(META_KEY, blob)
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
    from ._lmdb_reader import LMDBReader, release_environment

    with LMDBReader(path) as reader:
        meta = dict(reader.metadata)
    release_environment(path)
    meta.update(items)
    blob = json.dumps(meta).encode("utf-8")
    env = lmdb.open(str(path), subdir=False, lock=True, map_size=_INITIAL_MAP_SIZE)
    try:
        size = max(env.info()["map_size"], os.path.getsize(path) + 4 * len(blob) + (1 << 20))
        env.set_mapsize(size)
        with env.begin(write=True) as txn:
            txn.put(META_KEY, blob)
    finally:
        env.close()
    return meta
