"""Feeding graphs to a model: a map-style dataset that builds graphs on access, and a
DataLoader whose workers build and collate them in parallel."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ._batch import collate
from ._configuration import Configuration
from ._errors import EmptyDatasetError
from ._graph import AtomicGraph, GraphBuilder

__all__ = ["GraphDataset", "graph_loader"]


class GraphDataset(Dataset):
    """Graphs built on access from a sequence of configurations.

    The sequence may be a list or a lazy store ([`LMDBDataset`][mmh_data.LMDBDataset]), so the
    graphs of a dataset larger than memory are never all held at once.

    Args:
        configs: Any sequence of [`Configuration`][mmh_data.Configuration] (supports ``len`` and
            indexing).
        builder: The [`GraphBuilder`][mmh_data.GraphBuilder] (cutoff, head list, dtype).

    Example:
        >>> # ds = GraphDataset(configs, GraphBuilder(5.0, heads=["pbe"]))
        >>> # loader = graph_loader(ds, batch_size=16, shuffle=True)
    """

    def __init__(self, configs: Sequence[Configuration], builder: GraphBuilder) -> None:
        if len(configs) == 0:
            raise EmptyDatasetError("the dataset is empty")
        self.configs = configs
        self.builder = builder

    def __len__(self) -> int:
        return len(self.configs)

    def __getitem__(self, index: int) -> AtomicGraph:
        return self.builder(self.configs[index])


def _worker_init(_worker_id: int) -> None:
    # Each worker is one core's worth of work: no intra-op threads on top of it.
    torch.set_num_threads(1)


def graph_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool = False,
    num_workers: int = 2,
    drop_last: bool = False,
    seed: int | None = None,
    sampler: Sampler | None = None,
    dtype: torch.dtype | None = None,
    pin_memory: bool = False,
    prefetch_factor: int = 4,
) -> DataLoader:
    """A `torch.utils.data.DataLoader` that yields [`Batch`][mmh_data.Batch] objects.

    Graph building (neighbour lists) and collation run in ``num_workers`` worker
    processes, each with one torch thread; the default of 2 keeps two CPU cores busy while
    the main process trains.

    Args:
        dataset: A dataset whose items are [`AtomicGraph`][mmh_data.AtomicGraph] (e.g.
            [`GraphDataset`][mmh_data.GraphDataset]).
        batch_size: Graphs per batch.
        shuffle: Reshuffle every epoch (ignored when ``sampler`` is given).
        num_workers: Worker processes (0: build in the main process).
        drop_last: Drop the last incomplete batch.
        seed: Seed of the shuffling generator (reproducible order).
        sampler: A custom sampler, e.g. ``torch.utils.data.DistributedSampler``.
        dtype: Float dtype of the batches (``None``: the graphs' dtype).
        pin_memory: Pin batches for faster host-to-GPU copies.
        prefetch_factor: Batches prefetched per worker.

    Returns:
        The DataLoader.
    """
    generator = None
    if seed is not None:
        generator = torch.Generator()
        generator.manual_seed(int(seed))
    extra = {}
    if num_workers > 0:
        extra = dict(
            worker_init_fn=_worker_init,
            persistent_workers=True,
            prefetch_factor=prefetch_factor,
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        collate_fn=partial(collate, dtype=dtype),
        generator=generator,
        pin_memory=pin_memory,
        **extra,
    )
