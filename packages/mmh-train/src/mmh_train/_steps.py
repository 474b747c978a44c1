"""The data of one training step: the plan's structures on this process, their graphs
(built once, or on the fly by DataLoader workers), split into forward passes bounded by
atoms and edges."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from mmh_data import AtomicGraph, Batch, Configuration, DataError, GraphBuilder, collate
from torch.utils.data import DataLoader, Dataset

from ._sampler import MixedBatchPlan

__all__ = ["GraphCache", "StepBatches", "StepData", "split_by_size", "step_loader"]


class GraphCache:
    """Graphs of structures held in memory, each built on first use and kept for the run.

    Keyed by the configuration object itself, so the training stream, the validation and
    the final evaluation of one structure share one graph. Graphs carry head names, not
    indices (see [`mmh_data.GraphBuilder`][] with ``heads=None``).

    Args:
        builder: Builds the graphs.
    """

    def __init__(self, builder: GraphBuilder) -> None:
        self.builder = builder
        self.builds = 0
        self._graphs: dict[int, tuple[Configuration, AtomicGraph]] = {}

    def __call__(self, config: Configuration) -> AtomicGraph:
        entry = self._graphs.get(id(config))
        if entry is None or entry[0] is not config:
            entry = (config, self.builder(config))
            self._graphs[id(config)] = entry
            self.builds += 1
        return entry[1]

    def __len__(self) -> int:
        return len(self._graphs)


def _where(graph: AtomicGraph) -> str:
    file, frame = graph.source
    return f"{file or '<no file>'}, frame {frame}"


def split_by_size(
    graphs: Sequence[AtomicGraph],
    *,
    max_atoms: int | None = None,
    max_edges: int | None = None,
    oversize: str = "error",
) -> tuple[list[list[AtomicGraph]], int]:
    """Split graphs, in order, into groups of at most ``max_atoms`` atoms and ``max_edges``
    edges (greedy: a group closes when the next graph would cross a bound).

    Args:
        graphs: The graphs of one step.
        max_atoms: Bound on the atoms of a group (``None``: none).
        max_edges: Bound on the edges of a group (``None``: none).
        oversize: A graph that alone exceeds a bound: ``"error"``, ``"skip"``, or
            ``"alone"`` (a group of its own; evaluation uses it, so no structure is left out).

    Returns:
        The groups and the number of graphs skipped.

    Raises:
        DataError: A graph exceeds a bound and ``oversize`` is ``"error"`` (names the
            file and frame).
    """
    groups: list[list[AtomicGraph]] = []
    current: list[AtomicGraph] = []
    atoms = edges = skipped = 0
    for g in graphs:
        n, e = g.num_atoms, g.num_edges
        too_big = (max_atoms is not None and n > max_atoms) or (
            max_edges is not None and e > max_edges
        )
        if too_big:
            if oversize == "skip":
                skipped += 1
                continue
            if oversize == "alone":
                if current:
                    groups.append(current)
                groups.append([g])
                current, atoms, edges = [], 0, 0
                continue
            raise DataError(
                f"{_where(g)}: a structure of {n} atoms and {e} edges exceeds the batch bounds "
                f"(training.max_atoms {max_atoms}, training.max_edges {max_edges}); raise "
                "them or set training.oversize: skip"
            )
        if current and (
            (max_atoms is not None and atoms + n > max_atoms)
            or (max_edges is not None and edges + e > max_edges)
        ):
            groups.append(current)
            current, atoms, edges = [], 0, 0
        current.append(g)
        atoms += n
        edges += e
    if current:
        groups.append(current)
    return groups, skipped


@dataclass
class StepData:
    """The forward passes of one step on one process.

    Attributes:
        step: The step.
        batches: Collated forward passes (may be empty if every structure was skipped).
        skipped: Structures left out for exceeding the batch bounds.
    """

    step: int
    batches: list[Batch] = field(default_factory=list)
    skipped: int = 0


class StepBatches(Dataset):
    """Item ``t`` is the `StepData` of step ``t`` on process ``rank``.

    The plan says which structures make up the step; they are read from their streams
    (lists or lazy stores), turned into graphs by ``graphs`` (a `GraphCache`, or a
    [`mmh_data.GraphBuilder`][] that builds them on the fly, e.g. in DataLoader
    workers), split by `split_by_size` and collated. Everything follows from ``t``,
    so a resumed run sees the same batches.

    Args:
        plan: The mixed-batch plan.
        streams: One sequence of configurations per plan source.
        graphs: Configuration -> graph.
        rank: This process's rank.
        world_size: Number of processes.
        max_atoms: Bound on the atoms of a forward pass.
        max_edges: Bound on the edges of a forward pass.
        oversize: ``"error"`` or ``"skip"`` (see `split_by_size`).
        dtype: Float dtype of the batches.
    """

    def __init__(
        self,
        plan: MixedBatchPlan,
        streams: Sequence[Sequence[Configuration]],
        graphs,
        *,
        rank: int = 0,
        world_size: int = 1,
        max_atoms: int | None = None,
        max_edges: int | None = None,
        oversize: str = "error",
        dtype: torch.dtype | None = None,
    ) -> None:
        if len(streams) != len(plan.sources):
            raise ValueError(f"{len(streams)} streams for {len(plan.sources)} plan sources")
        self.plan = plan
        self.streams = list(streams)
        self.graphs = graphs
        self.rank, self.world_size = rank, world_size
        self.max_atoms, self.max_edges, self.oversize = max_atoms, max_edges, oversize
        self.dtype = dtype

    def __len__(self) -> int:
        # steps are addressed directly; a sampler chooses which
        return 2**62

    def __getitem__(self, step: int) -> StepData:
        items = self.plan.local_batch(step, self.rank, self.world_size)
        graphs = [self.graphs(self.streams[s][i]) for s, i in items]
        groups, skipped = split_by_size(
            graphs, max_atoms=self.max_atoms, max_edges=self.max_edges, oversize=self.oversize
        )
        return StepData(step, [collate(g, dtype=self.dtype) for g in groups], skipped)


class _Steps(torch.utils.data.Sampler):
    def __init__(self, start: int, stop: int) -> None:
        self.start, self.stop = start, stop

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start, self.stop))

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def _identity(item):
    return item


def _worker_init(_worker_id: int) -> None:
    torch.set_num_threads(1)
    _exit_with_parent()


def _exit_with_parent() -> None:
    """On Linux, have the kernel end this worker when the training process dies (a
    SIGKILL leaves no chance to stop the workers, and a worker blocked on a full result
    queue would wait forever)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)


def step_loader(
    steps: StepBatches, start: int, stop: int, *, num_workers: int = 0, prefetch: int = 2
) -> Iterator[StepData]:
    """The `StepData` of steps ``start, ..., stop - 1``, in order.

    With ``num_workers`` processes the steps ahead are read, built and collated while the
    model trains (each worker with one torch thread); 0 does it in this process.
    """
    if num_workers == 0:
        return (steps[t] for t in range(start, stop))
    loader = DataLoader(
        steps,
        batch_size=None,
        sampler=_Steps(start, stop),
        num_workers=num_workers,
        collate_fn=_identity,
        worker_init_fn=_worker_init,
        prefetch_factor=prefetch,
        persistent_workers=False,
    )
    return iter(loader)
