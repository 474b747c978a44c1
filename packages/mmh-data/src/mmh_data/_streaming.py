"""A lazy, DDP-sharded dataset over an mmh LMDB store."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import torch.distributed as dist
from torch.utils.data import Dataset

from ._configuration import Configuration
from ._errors import EmptyDatasetError
from ._lmdb_reader import LMDBReader

__all__ = ["LMDBDataset", "distributed_rank"]


def distributed_rank(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """Resolve ``(rank, world_size)``: explicit values, else ``torch.distributed`` when it is
    initialised, else ``(0, 1)``.

    Args:
        rank: This process's rank, or ``None``.
        world_size: Number of processes, or ``None``.

    Returns:
        ``(rank, world_size)``.

    Raises:
        ValueError: Only one of the two was given, or ``rank`` is out of range.
    """
    if (rank is None) != (world_size is None):
        raise ValueError("give both rank and world_size, or neither")
    if rank is None:
        if dist.is_available() and dist.is_initialized():
            rank, world_size = dist.get_rank(), dist.get_world_size()
        else:
            rank, world_size = 0, 1
    assert world_size is not None
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"invalid rank {rank} for world_size {world_size}")
    return int(rank), int(world_size)


class LMDBDataset(Dataset):
    """Configurations read lazily from an mmh LMDB store, sharded across DDP ranks.

    Nothing per configuration is held in memory: each access decodes one record from the
    memory-mapped file, so memory stays flat however large the store is. Rank ``r`` of
    ``W`` sees the records ``r, r + W, r + 2W, ...``. With ``drop_last=False`` (default)
    every rank gets ``ceil(count / W)`` items: the shortest shards wrap around to the start
    of the store (as ``DistributedSampler`` does), so all ranks run the same number of
    steps; with ``drop_last=True`` every rank gets ``floor(count / W)`` items. Shuffle
    inside the shard with the DataLoader (``shuffle=True``); do not add a
    ``DistributedSampler`` on top.

    Args:
        path: The store (written by [`write_lmdb`][mmh_data.write_lmdb] or ``mmh-data convert``).
        rank: This process's rank (default: from ``torch.distributed``, else 0).
        world_size: Number of processes (default: from ``torch.distributed``, else 1).
        drop_last: Give every rank ``floor(count / W)`` items instead of padding.
        transform: Applied to each configuration, e.g. a [`GraphBuilder`][mmh_data.GraphBuilder].
        remap_every: See [`LMDBReader`][mmh_data.LMDBReader].

    Example:
        >>> # ds = LMDBDataset("omat.lmdb", transform=GraphBuilder(6.0, heads=["omat"]))
        >>> # loader = graph_loader(ds, batch_size=64, shuffle=True)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
        transform: Callable[[Configuration], Any] | None = None,
        remap_every: int | None = 100_000,
    ) -> None:
        self.reader = LMDBReader(path, remap_every=remap_every)
        self.rank, self.world_size = distributed_rank(rank, world_size)
        self.transform = transform
        total = len(self.reader)
        if drop_last:
            self._length = total // self.world_size
        else:
            self._length = math.ceil(total / self.world_size)
        if self._length == 0:
            raise EmptyDatasetError(
                f"store has {total} configurations, too few for {self.world_size} ranks",
                file=str(path),
            )

    @property
    def metadata(self) -> dict[str, Any]:
        """The store's metadata (count, heads, elements, files, keys, statistics...)."""
        return self.reader.metadata

    @property
    def total(self) -> int:
        """Number of configurations in the whole store (all ranks)."""
        return len(self.reader)

    def global_index(self, index: int) -> int:
        """Index in the store of this shard's item ``index``."""
        if not 0 <= index < self._length:
            raise IndexError(f"index {index} out of range for a shard of {self._length}")
        return (self.rank + index * self.world_size) % len(self.reader)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> Any:
        config = self.reader[self.global_index(index)]
        return config if self.transform is None else self.transform(config)
