"""Mini-batches that mix several data sources at fixed shares, identical on any number of
processes, and resumable at any step."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MixedBatchPlan", "Source", "allocate"]


@dataclass(frozen=True)
class Source:
    """One stream of training structures.

    Attributes:
        name: Name (e.g. the head, or ``"<head>/replay"``).
        size: Number of structures.
        share: Fraction of every batch drawn from this source, or ``None`` to share what the
            fixed shares leave in proportion to the sizes.
        defines_epoch: Whether one pass over this source counts towards an epoch (replay
            buffers do not: they are cycled as often as needed).
    """

    name: str
    size: int
    share: float | None = None
    defines_epoch: bool = True


def allocate(sources: Sequence[Source], batch_size: int) -> list[int]:
    """Structures per batch from each source (sums to ``batch_size``).

    Fixed shares are honoured first; the rest is split in proportion to the sizes of the
    sources without a share. Rounding uses the largest remainder, so every count differs
    from its exact share by less than one. A source with a non-zero share always gets at
    least one slot when ``batch_size`` allows it.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    fixed = sum(s.share for s in sources if s.share is not None)
    if fixed > 1 + 1e-12:
        raise ValueError(f"the fixed batch shares add up to {fixed:.3g} > 1")
    free = [s for s in sources if s.share is None]
    free_size = sum(s.size for s in free)
    if free and free_size == 0:
        raise ValueError("sources without a fixed share are all empty")
    if not free and abs(fixed - 1) > 1e-9:
        raise ValueError(f"the batch shares add up to {fixed:.3g}, not 1")
    exact = []
    for s in sources:
        share = s.share if s.share is not None else (1 - fixed) * s.size / free_size
        exact.append(share * batch_size)
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(sources)), key=lambda k: (counts[k] - exact[k], k))
    for k in order[: batch_size - sum(counts)]:
        counts[k] += 1
    # a source that asked for a share must appear in every batch
    for k in range(len(sources)):
        if counts[k] == 0 and exact[k] > 0 and batch_size >= len(sources):
            donor = max(range(len(sources)), key=lambda i: counts[i])
            counts[donor] -= 1
            counts[k] = 1
    return counts


class MixedBatchPlan:
    """Which structures make up global batch number ``t``, for any ``t``.

    Every source is an endless stream: the concatenation of random permutations of its
    indices, one permutation per cycle, each drawn from a generator seeded by ``(seed,
    source, cycle)``. Batch ``t`` takes the next ``counts[s]`` indices of every stream, so the
    plan holds no state beyond ``t``: a run resumed at step ``t`` sees exactly the batches
    it would have seen. An epoch is ``max_s ceil(size_s / count_s)`` batches over the
    sources that define epochs.

    With ``world_size`` processes, rank ``r`` takes every ``world_size``-th entry of the
    global batch (which lists the sources one after the other), so every rank gets the
    same number of structures, each source's count on a rank is within one of its share,
    and the union of the ranks' batches is the single-process batch.

    Args:
        sources: The sources.
        batch_size: Global batch size (a multiple of ``world_size``).
        seed: Seed of the permutations.
        shuffle: Permute (``False``: every stream is ``0, 1, 2, ...`` repeated).
    """

    def __init__(
        self,
        sources: Sequence[Source],
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        if not sources:
            raise ValueError("no data sources")
        for s in sources:
            if s.size < 1:
                raise ValueError(f"data source {s.name!r} is empty")
        self.sources = list(sources)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.counts = allocate(self.sources, self.batch_size)
        epoch_sources = [
            k for k, s in enumerate(self.sources) if s.defines_epoch and self.counts[k] > 0
        ]
        if not epoch_sources:
            raise ValueError("no data source defines an epoch")
        self.steps_per_epoch = max(
            math.ceil(self.sources[k].size / self.counts[k]) for k in epoch_sources
        )
        self._perm_cache: dict[tuple[int, int], np.ndarray] = {}

    def describe(self) -> dict[str, int]:
        """Structures per batch from each source."""
        return {s.name: c for s, c in zip(self.sources, self.counts, strict=True)}

    def _permutation(self, source: int, cycle: int) -> np.ndarray:
        key = (source, cycle)
        perm = self._perm_cache.get(key)
        if perm is None:
            size = self.sources[source].size
            if self.shuffle:
                rng = np.random.default_rng([self.seed, source, cycle])
                perm = rng.permutation(size)
            else:
                perm = np.arange(size)
            if len(self._perm_cache) > 4 * len(self.sources):
                self._perm_cache.clear()
            self._perm_cache[key] = perm
        return perm

    def _take(self, source: int, start: int, count: int) -> list[int]:
        size = self.sources[source].size
        out = []
        pos = start
        while len(out) < count:
            cycle, offset = divmod(pos, size)
            perm = self._permutation(source, cycle)
            n = min(count - len(out), size - offset)
            out.extend(int(i) for i in perm[offset : offset + n])
            pos += n
        return out

    def batch(self, step: int) -> list[tuple[int, int]]:
        """The global batch of step ``step`` as ``(source, index)`` pairs, source by source."""
        if step < 0:
            raise ValueError("step must be >= 0")
        return [(k, i) for k, c in enumerate(self.counts) for i in self._take(k, step * c, c)]

    def local_batch(self, step: int, rank: int = 0, world_size: int = 1) -> list[tuple[int, int]]:
        """The part of global batch ``step`` that process ``rank`` trains on."""
        if self.batch_size % world_size:
            raise ValueError(
                f"batch_size {self.batch_size} is not a multiple of the {world_size} processes"
            )
        return self.batch(step)[rank::world_size]

    def state(self) -> Mapping[str, object]:
        """What fixes the plan (for checkpoints: a resumed run must match it)."""
        return {
            "sources": [(s.name, s.size, s.share, s.defines_epoch) for s in self.sources],
            "batch_size": self.batch_size,
            "seed": self.seed,
            "shuffle": self.shuffle,
        }
