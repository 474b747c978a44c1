"""Statistics computed once per source and kept with it: in the metadata of an mmh LMDB
store, or in a sidecar file ``<file>.mmh-stats.json`` for the other formats."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ._configuration import Configuration
from ._errors import DataWarning
from ._keys import KeySpec
from ._read import LMDB_SUFFIXES
from ._statistics import StatisticsAccumulator

__all__ = ["SIDECAR_SUFFIX", "cached_statistics", "statistics_key"]

#: Suffix of the sidecar file that holds the cached statistics of an extxyz or ASE db file.
SIDECAR_SUFFIX = ".mmh-stats.json"
_LMDB_ITEM = "statistics_cache"
_VERSION = 2


def statistics_key(cutoff: float, keys: Mapping[str, Any] | None = None) -> str:
    """The cache entry name of statistics with this cutoff and key map.

    The key map is completed with [`KeySpec`][mmh_data.KeySpec]'s defaults first, so that no
    map, an empty one and one that spells the defaults out name the same entry.
    """
    full = {**KeySpec().to_dict(), **dict(keys or {})}
    blob = json.dumps({"version": _VERSION, "cutoff": float(cutoff), "keys": full}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _fingerprint(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}


def _is_lmdb(path: Path) -> bool:
    return path.suffix.lower() in LMDB_SUFFIXES


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _load_lmdb(path: Path, key: str) -> dict[str, Any] | None:
    from ._lmdb_reader import LMDBReader

    with LMDBReader(path) as reader:
        entries = reader.metadata.get(_LMDB_ITEM) or {}
        count = len(reader)
    entry = entries.get(key)
    if entry is None:
        return None
    if int(entry.get("count", -1)) != count:
        warnings.warn(
            f"{path}: the cached statistics were computed for a store of {entry.get('count')} "
            f"records, it has {count}; recomputing them",
            DataWarning,
            stacklevel=4,
        )
        return None
    return entry["state"]


def _load_sidecar(path: Path, key: str) -> dict[str, Any] | None:
    side = _sidecar(path)
    if not side.exists():
        return None
    try:
        data = json.loads(side.read_text())
    except (OSError, ValueError) as exc:
        warnings.warn(
            f"{side}: unreadable statistics cache ({exc}); recomputing the statistics of {path}",
            DataWarning,
            stacklevel=4,
        )
        return None
    if data.get("file") != _fingerprint(path):
        warnings.warn(
            f"{side}: the cached statistics are for a different version of {path} (size or "
            "modification time changed); recomputing them",
            DataWarning,
            stacklevel=4,
        )
        return None
    entry = (data.get("entries") or {}).get(key)
    return None if entry is None else entry


def _store_lmdb(path: Path, key: str, state: dict[str, Any], count: int) -> None:
    from ._lmdb import update_lmdb_metadata
    from ._lmdb_reader import LMDBReader

    with LMDBReader(path) as reader:
        entries = dict(reader.metadata.get(_LMDB_ITEM) or {})
    entries[key] = {"count": count, "state": state}
    update_lmdb_metadata(path, {_LMDB_ITEM: entries})


def _store_sidecar(path: Path, key: str, state: dict[str, Any]) -> None:
    side = _sidecar(path)
    data: dict[str, Any] = {"file": _fingerprint(path), "entries": {}}
    if side.exists():
        try:
            old = json.loads(side.read_text())
            if old.get("file") == data["file"]:
                data["entries"] = dict(old.get("entries") or {})
        except (OSError, ValueError):
            pass
    data["entries"][key] = state
    tmp = side.with_name(f".{side.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, side)


def cached_statistics(
    path: str | os.PathLike,
    read: Callable[[], Iterable[Configuration]],
    *,
    head: str,
    cutoff: float,
    keys: Mapping[str, Any] | None = None,
    write: bool = True,
) -> tuple[StatisticsAccumulator, str]:
    """The statistics of one source file, from its cache or from one pass over it.

    The cached sums do not depend on E0s (see
    [`StatisticsAccumulator`][mmh_data.StatisticsAccumulator]), so E0s, scale and shift are
    derived from them by any later run. An mmh LMDB store keeps them in its metadata (checked
    against its record count); any other file in ``<file>.mmh-stats.json`` beside it, checked
    against the file's size and modification time. A cache for a different file is reported
    ([`DataWarning`][mmh_data.DataWarning]) and replaced.

    Args:
        path: The source file.
        read: Returns the file's configurations (called only when there is no cache).
        head: The head the statistics are for (names the accumulator).
        cutoff: Neighbour-list cutoff in Å.
        keys: The key map the file is read with (part of the cache entry's name).
        write: Store freshly computed statistics (e.g. only in the main process). A cache
            that cannot be written (read-only directory) is reported and skipped.

    Returns:
        The accumulator and ``"cached"`` or ``"computed"``.
    """
    path = Path(path)
    key = statistics_key(cutoff, keys)
    state = _load_lmdb(path, key) if _is_lmdb(path) else _load_sidecar(path, key)
    if state is not None:
        acc = StatisticsAccumulator.from_state_dict(state)
        acc.head = head
        return acc, "cached"
    acc = StatisticsAccumulator(head, cutoff)
    acc.update(read())
    if write:
        try:
            if _is_lmdb(path):
                _store_lmdb(path, key, acc.state_dict(), acc.num_configs)
            else:
                _store_sidecar(path, key, acc.state_dict())
        except OSError as exc:
            warnings.warn(
                f"{path}: cannot store its statistics ({exc}); they will be computed again",
                DataWarning,
                stacklevel=2,
            )
    return acc, "computed"
