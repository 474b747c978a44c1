"""Choosing the replay buffer: which pre-training structures to mix into fine-tuning."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np

from ._configuration import Configuration
from ._descriptors import structure_descriptors
from ._errors import DataError, DataWarning, EmptyDatasetError
from ._keys import KeySpec

__all__ = [
    "element_filter_mask",
    "farthest_point_sampling",
    "select_replay",
    "select_replay_indices",
]

FilterType = Literal["none", "combinations", "inclusive", "exclusive"]
Method = Literal["random", "fps"]
Descriptors = np.ndarray | Callable[[list[Configuration]], np.ndarray] | None
_FILTERS = ("none", "combinations", "inclusive", "exclusive")


def element_filter_mask(
    element_sets: Sequence[set[int] | frozenset[int]],
    elements: Iterable[int] | None,
    filter: FilterType = "none",
) -> np.ndarray:
    """Which structures pass an element filter against the fine-tuning elements.

    Args:
        element_sets: The set of atomic numbers of each structure.
        elements: The fine-tuning elements (needed unless ``filter == "none"``).
        filter: ``"none"`` (all pass), ``"combinations"`` (structure's elements ⊆
            fine-tuning elements), ``"inclusive"`` (structure's elements ⊇ fine-tuning
            elements) or ``"exclusive"`` (the same set).

    Returns:
        ``[C]`` bool mask.
    """
    if filter not in _FILTERS:
        raise ValueError(f"unknown filter {filter!r}; use one of {_FILTERS}")
    if filter == "none":
        return np.ones(len(element_sets), dtype=bool)
    if elements is None:
        raise ValueError(f"filter {filter!r} needs the fine-tuning elements")
    ft = frozenset(int(z) for z in elements)
    test = {
        "combinations": lambda s: s <= ft,
        "inclusive": lambda s: s >= ft,
        "exclusive": lambda s: s == ft,
    }[filter]
    return np.array([test(frozenset(s)) for s in element_sets], dtype=bool)


def farthest_point_sampling(descriptors: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """Greedy farthest-point sampling (Euclidean).

    The first point is drawn at random from ``seed``; each next point is the one farthest
    from all points chosen so far. Cost O(n · C · D) time, O(C) extra memory.

    Args:
        descriptors: ``[C, D]``.
        n: Points to pick, ``n <= C``.
        seed: Seed of the first pick.

    Returns:
        ``[n]`` row indices in the order they were picked.
    """
    X = np.asarray(descriptors, dtype=np.float64)
    count = X.shape[0]
    if not 0 <= n <= count:
        raise ValueError(f"cannot pick {n} of {count} points")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    chosen = np.empty(n, dtype=np.int64)
    chosen[0] = rng.integers(count)
    sq_norm = np.einsum("ij,ij->i", X, X)
    nearest = np.full(count, np.inf)
    for k in range(1, n):
        c = X[chosen[k - 1]]
        d2 = sq_norm - 2.0 * (X @ c) + c @ c
        np.minimum(nearest, d2, out=nearest)
        nearest[chosen[:k]] = -np.inf
        chosen[k] = int(np.argmax(nearest))
    return chosen


def select_replay_indices(
    configs: Sequence[Configuration],
    n: int,
    *,
    method: Method = "random",
    filter: FilterType = "none",
    elements: Iterable[int] | None = None,
    seed: int = 0,
    descriptors: Descriptors = None,
    cutoff: float = 5.0,
    allow_fewer: bool = False,
) -> np.ndarray:
    """Indices of the replay structures chosen from ``configs``.

    Args:
        configs: The pre-training pool (a list or a lazy source; read one structure at a
            time, once for element sets and, for ``"fps"``, once more for descriptors of the
            candidates).
        n: How many to select.
        method: ``"random"`` (uniform without replacement) or ``"fps"`` (farthest-point
            sampling on descriptors: the most diverse set).
        filter: Element filter (see [`element_filter_mask`][mmh_data.element_filter_mask]).
        elements: Fine-tuning elements (for the filter).
        seed: Makes the selection reproducible.
        descriptors: For ``"fps"``: ``None`` (model-free
            [`structure_descriptors`][mmh_data.structure_descriptors]), an array ``[len(configs),
            D]``, or a callable taking the list of candidate configurations and returning
            ``[len(candidates), D]`` (e.g. a model's invariant descriptors).
        cutoff: Cutoff of the default descriptors, Å.
        allow_fewer: When fewer than ``n`` structures pass the filter, return all of them
            with a [`DataWarning`][mmh_data.DataWarning] instead of raising.

    Returns:
        ``[n]`` int64 indices into ``configs`` (in order of selection).

    Raises:
        DataError: Fewer than ``n`` structures pass the filter (unless ``allow_fewer``).
        EmptyDatasetError: ``configs`` is empty.
    """
    if method not in ("random", "fps"):
        raise ValueError(f"unknown method {method!r}; use 'random' or 'fps'")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    total = len(configs)
    if total == 0:
        raise EmptyDatasetError("the replay pool is empty")
    sets = None
    if filter == "none":
        candidates = np.arange(total)
    else:
        sets = [frozenset(np.unique(configs[k].atomic_numbers).tolist()) for k in range(total)]
        candidates = np.flatnonzero(element_filter_mask(sets, elements, filter))
    available = candidates.shape[0]
    if n > available:
        message = (
            f"asked for {n} replay structures but only {available} of {total} pass the "
            f"{filter!r} element filter"
            + (f" for elements {sorted(int(z) for z in elements)}" if elements else "")
        )
        if not allow_fewer:
            raise DataError(message + "; lower n, change the filter, or pass allow_fewer=True")
        warnings.warn(message + f"; returning all {available}", DataWarning, stacklevel=2)
        n = available
    rng = np.random.default_rng(seed)
    if method == "random":
        return np.sort(rng.choice(candidates, size=n, replace=False)).astype(np.int64)
    if descriptors is None:
        # One structure at a time (a lazy pool is never held in memory): the element list
        # that spans the descriptors first, then the rows.
        if sets is None:
            sets = [frozenset(np.unique(configs[k].atomic_numbers).tolist()) for k in candidates]
            spanned = set().union(*sets)
        else:
            spanned = set().union(*(sets[k] for k in candidates))
        X = structure_descriptors(
            (configs[int(k)] for k in candidates), cutoff=cutoff, elements=sorted(spanned)
        )
    elif callable(descriptors):
        X = np.asarray(descriptors([configs[k] for k in candidates]), dtype=np.float64)
    else:
        X = np.asarray(descriptors, dtype=np.float64)
        if X.shape[0] != total:
            raise ValueError(f"descriptors have {X.shape[0]} rows for {total} structures")
        X = X[candidates]
    if X.ndim != 2 or X.shape[0] != available:
        raise ValueError(f"descriptors must be [{available}, D], got {X.shape}")
    return candidates[farthest_point_sampling(X, n, seed=seed)].astype(np.int64)


def _pool(source, keys: KeySpec | None) -> Sequence[Configuration]:
    if isinstance(source, (str, os.PathLike)) or (
        isinstance(source, (list, tuple)) and source and isinstance(source[0], (str, os.PathLike))
    ):
        paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        from ._sources import open_sources

        # Lazy, random-access sources: only the selected structures are kept.
        return open_sources(paths, keys=keys)
    items = list(source) if not isinstance(source, Sequence) else source
    if items and not isinstance(items[0], Configuration):
        from ._convert import configurations_from_atoms

        return configurations_from_atoms(items, keys=keys)
    return items


def select_replay(
    source: str | os.PathLike | Sequence,
    n: int,
    *,
    method: Method = "random",
    filter: FilterType = "none",
    elements: Iterable[int] | None = None,
    seed: int = 0,
    descriptors: Descriptors = None,
    cutoff: float = 5.0,
    allow_fewer: bool = False,
    keys: KeySpec | None = None,
    head: str | None = None,
    weight: float | None = None,
) -> list[Configuration]:
    """Select a replay buffer of exactly ``n`` structures from a pre-training source.

    The count, filter and method are honoured for every kind of source: a file or list of
    files (extxyz, ASE db, ASE-LMDB, mmh LMDB; opened as lazy sources, so a pool larger than
    memory can be sampled), a list of [`Configuration`][mmh_data.Configuration], a list of
    ``ase.Atoms`` or a lazy source.

    Args:
        source: The pre-training pool.
        n: Number of structures.
        method: ``"random"`` or ``"fps"``.
        filter: ``"none"``, ``"combinations"``, ``"inclusive"`` or ``"exclusive"``.
        elements: Fine-tuning elements for the filter.
        seed: Reproducibility seed.
        descriptors: See [`select_replay_indices`][mmh_data.select_replay_indices].
        cutoff: Cutoff of the default descriptors, Å.
        allow_fewer: Return fewer (with a warning) instead of raising.
        keys: Key map for reading files or atoms.
        head: Re-assign the selected structures to this head (e.g. the pre-training head).
        weight: Set this config weight on the selected structures.

    Returns:
        The selected configurations.

    Example:
        >>> # replay = select_replay("mp_pool.xyz", 1000, method="fps", filter="combinations",
        >>> #                        elements=[1, 6, 8], head="pt_head", seed=1)
    """
    pool = _pool(source, keys)
    indices = select_replay_indices(
        pool,
        n,
        method=method,
        filter=filter,
        elements=elements,
        seed=seed,
        descriptors=descriptors,
        cutoff=cutoff,
        allow_fewer=allow_fewer,
    )
    changes: dict[str, object] = {}
    if head is not None:
        changes["head"] = head
    if weight is not None:
        changes["weight"] = weight
    out = [pool[int(k)] for k in indices]
    return [c.replace(**changes) for c in out] if changes else out
