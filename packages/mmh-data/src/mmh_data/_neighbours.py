"""Neighbour lists, computed with the vesin library.

Convention (the model relies on it): ``edge_index[0]`` is the sender ``i`` and
``edge_index[1]`` the receiver ``j``, as in ASE's ``neighbor_list("ijS")``, and the edge
vector is ``positions[j] - positions[i] + unit_shifts @ cell``. The list is *full*: each
pair appears in both directions. True self-edges (``i == j`` with a zero shift) are never
returned; an atom's own periodic images are (they are real neighbours in small cells).

vesin was chosen over matscipy and ASE after measuring all three; see the data benchmarks
page of the documentation.
"""

from __future__ import annotations

import threading

import numpy as np
import vesin

__all__ = ["edge_vectors_numpy", "neighbour_list"]

_local = threading.local()
_ZERO_CELL = np.zeros((3, 3))


def _calculator(cutoff: float) -> vesin.NeighborList:
    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    nl = cache.get(cutoff)
    if nl is None:
        # One thread: parallelism comes from building many graphs at once (DataLoader
        # workers), not from threads inside one small neighbour list.
        nl = cache[cutoff] = vesin.NeighborList(
            cutoff=cutoff, full_list=True, sorted=True, n_threads=1
        )
    return nl


def neighbour_list(
    positions: np.ndarray,
    cell: np.ndarray | None,
    pbc: np.ndarray | bool | None,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``(i, j, S)`` with ``|r_j - r_i + S @ cell| < cutoff``.

    Periodic images are searched only along periodic directions; a cell may be
    non-orthogonal and smaller than the cutoff (an atom then sees several images of the
    same neighbour, and of itself).

    Args:
        positions: ``[N, 3]`` Cartesian positions in Å.
        cell: ``[3, 3]`` lattice vectors as rows, or ``None``/zeros without a cell.
        pbc: ``[3]`` periodicity flags (or one bool).
        cutoff: Cutoff radius in Å, > 0.

    Returns:
        ``edge_index`` ``[2, E]`` int64 (row 0 sender ``i``, row 1 receiver ``j``) and
        ``unit_shifts`` ``[E, 3]`` int64 (integer cell offsets ``S``).

    Raises:
        ValueError: If the cutoff is not positive, or a periodic direction has a zero
            (or degenerate) cell vector.

    Example:
        >>> import numpy as np
        >>> ei, s = neighbour_list(np.array([[0.0, 0, 0], [0, 0, 1.0]]), None, False, 1.5)
        >>> ei.tolist()
        [[0, 1], [1, 0]]
    """
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    pos = np.ascontiguousarray(positions, dtype=np.float64)
    n = pos.shape[0]
    box = _ZERO_CELL if cell is None else np.ascontiguousarray(cell, dtype=np.float64)
    periodic = np.zeros(3, dtype=bool) if pbc is None else np.asarray(pbc, dtype=bool)
    if periodic.shape != (3,):
        periodic = np.repeat(periodic.reshape(-1)[:1], 3)
    if n == 0:
        return np.zeros((2, 0), dtype=np.int64), np.zeros((0, 3), dtype=np.int64)
    if periodic.any():
        sub = box[periodic]
        if np.linalg.matrix_rank(sub) < sub.shape[0]:
            raise ValueError(
                f"periodic directions {np.flatnonzero(periodic).tolist()} need linearly "
                f"independent, non-zero cell vectors; got cell {box.tolist()}"
            )
    pairs, shifts = _calculator(float(cutoff)).compute(
        pos, box, periodic, quantities="PS", copy=False
    )
    edge_index = np.ascontiguousarray(pairs.T, dtype=np.int64)
    shifts = shifts.astype(np.int64)
    same = edge_index[0] == edge_index[1]
    if same.any():
        keep = ~(same & ~shifts.any(axis=1))
        edge_index, shifts = edge_index[:, keep], shifts[keep]
    return edge_index, shifts


def edge_vectors_numpy(
    positions: np.ndarray, edge_index: np.ndarray, unit_shifts: np.ndarray, cell: np.ndarray
) -> np.ndarray:
    """Edge vectors ``r_j - r_i + S @ cell`` for one structure (numpy).

    Args:
        positions: ``[N, 3]``.
        edge_index: ``[2, E]``.
        unit_shifts: ``[E, 3]``.
        cell: ``[3, 3]``.

    Returns:
        ``[E, 3]`` vectors from sender to receiver.
    """
    return positions[edge_index[1]] - positions[edge_index[0]] + unit_shifts @ cell
