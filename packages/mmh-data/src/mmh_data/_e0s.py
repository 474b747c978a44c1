"""Per-element reference energies (E0s): least squares on compositions, isolated atoms."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np
from ase.data import chemical_symbols

from ._configuration import Configuration
from ._errors import DataWarning, EmptyDatasetError

__all__ = [
    "ISOLATED_ATOM",
    "average_e0s",
    "fit_e0s",
    "is_isolated_atom",
    "isolated_atom_energies",
    "solve_e0s",
]

#: ``config_type`` marking single-atom reference frames.
ISOLATED_ATOM = "IsolatedAtom"


def is_isolated_atom(config: Configuration) -> bool:
    """Whether ``config`` is an isolated-atom reference frame (one atom, ``IsolatedAtom``)."""
    return config.num_atoms == 1 and config.config_type == ISOLATED_ATOM


def isolated_atom_energies(configs: Iterable[Configuration]) -> dict[int, float]:
    """Energies of isolated-atom frames, averaged per element.

    Args:
        configs: Any configurations; only one-atom frames with config type
            ``"IsolatedAtom"`` and an energy label are used.

    Returns:
        ``{Z: E0}`` in eV (empty if there are none).
    """
    sums: dict[int, list[float]] = {}
    for config in configs:
        if is_isolated_atom(config) and config.energy is not None:
            entry = sums.setdefault(int(config.atomic_numbers[0]), [0.0, 0])
            entry[0] += config.energy
            entry[1] += 1
    return {z: s / n for z, (s, n) in sorted(sums.items())}


#: Size of the per-element accumulators (atomic numbers 0..118).
_MAX_Z = 119


def _name(z: int) -> str:
    return f"{chemical_symbols[z]} (Z={z})" if 0 < z < len(chemical_symbols) else f"Z={z}"


def fit_e0s(
    compositions: np.ndarray,
    energies: np.ndarray,
    elements: Iterable[int],
    *,
    counts: np.ndarray | None = None,
    fixed: Mapping[int, float] | None = None,
    context: str = "",
) -> dict[int, float]:
    """Solve ``min_E0 sum_c w_c (E_c - sum_z n_cz E0_z)^2`` by least squares.

    The rows are reduced to the normal equations (``Z x Z``), so time and memory are
    linear in the number of rows: nothing of size rows² is allocated.

    Args:
        compositions: ``[C, Z]`` atom counts of each row per element of ``elements``.
        energies: ``[C]`` total energies (or mean energies of identical compositions).
        elements: The atomic numbers of the columns.
        counts: ``[C]`` number of structures each row stands for (row weight; default 1).
            Rows of identical composition can be merged into one with their mean energy
            and count without changing the solution.
        fixed: E0s already known (e.g. isolated atoms); they are subtracted, not fitted.
        context: Prefix for warnings (e.g. the head name).

    Returns:
        ``{Z: E0}`` for every element (fixed ones included).

    Warns:
        DataWarning: The compositions do not determine every E0 (e.g. all structures
            have the same stoichiometry); the warning names the undetermined elements,
            which get the minimum-norm solution.
    """
    elements = [int(z) for z in elements]
    A = np.asarray(compositions, dtype=np.float64).reshape(-1, len(elements))
    b = np.asarray(energies, dtype=np.float64).reshape(-1)
    w = np.ones(len(b)) if counts is None else np.asarray(counts, dtype=np.float64)
    Aw = A * w[:, None]
    return solve_e0s(Aw.T @ A, Aw.T @ b, elements, rows=len(b), fixed=fixed, context=context)


def solve_e0s(
    gram: np.ndarray,
    rhs: np.ndarray,
    elements: Iterable[int],
    *,
    rows: int,
    fixed: Mapping[int, float] | None = None,
    context: str = "",
) -> dict[int, float]:
    """E0s from the normal equations of the composition least squares.

    ``gram = sum_c w_c n_c n_c^T`` and ``rhs = sum_c w_c E_c n_c`` can be accumulated one
    structure at a time (see [`StatisticsAccumulator`][mmh_data.StatisticsAccumulator]); the
    solution is the minimum-norm least-squares solution of [`fit_e0s`][mmh_data.fit_e0s] on the same
    rows.

    Args:
        gram: ``[Z, Z]`` weighted composition Gram matrix.
        rhs: ``[Z]`` weighted composition-energy products.
        elements: The atomic numbers of the columns.
        rows: Number of rows (structures) behind the sums (0: nothing to fit).
        fixed: E0s already known; they are moved to the right-hand side.
        context: Prefix for warnings and errors.

    Returns:
        ``{Z: E0}`` for every element (fixed ones included).
    """
    elements = [int(z) for z in elements]
    fixed = {int(z): float(e) for z, e in (fixed or {}).items()}
    G = np.asarray(gram, dtype=np.float64).reshape(len(elements), len(elements))
    r = np.asarray(rhs, dtype=np.float64).reshape(len(elements))
    fixed_cols = [k for k, z in enumerate(elements) if z in fixed]
    free_cols = [k for k, z in enumerate(elements) if z not in fixed]
    result = {z: fixed[z] for z in elements if z in fixed}
    if not free_cols:
        return dict(sorted(result.items()))
    if rows == 0:
        raise EmptyDatasetError(
            f"{context}no structures with an energy to fit E0s of "
            f"{[_name(elements[k]) for k in free_cols]}"
        )
    Gff = G[np.ix_(free_cols, free_cols)]
    r_free = r[free_cols]
    if fixed_cols:
        e_fixed = np.array([fixed[elements[k]] for k in fixed_cols])
        r_free = r_free - G[np.ix_(free_cols, fixed_cols)] @ e_fixed
    # Scale columns so that the rank test does not depend on typical counts.
    scale = np.sqrt(np.diag(Gff)).copy()
    scale[scale == 0] = 1.0
    Gs = Gff / np.outer(scale, scale)
    eigval, eigvec = np.linalg.eigh(Gs)
    top = float(eigval[-1]) if eigval.size else 0.0
    # eigenvalues are squared singular values: an exactly singular composition matrix
    # leaves eigenvalues at rounding level (~1e-16 of the largest)
    keep = eigval > max(top, 0.0) * 1e-11 * len(free_cols)
    rank = int(keep.sum())
    if rank < len(free_cols):
        null = eigvec[:, ~keep].T
        undetermined = [
            elements[free_cols[k]]
            for k in range(len(free_cols))
            if np.linalg.norm(null[:, k]) > 1e-8
        ]
        warnings.warn(
            f"{context}E0 least squares is rank deficient (rank {rank} for {len(free_cols)} "
            f"elements): the compositions do not determine the E0s of "
            f"{[_name(z) for z in undetermined]}; they get the minimum-norm solution. Add "
            f"structures with other stoichiometries or isolated-atom energies for them.",
            DataWarning,
            stacklevel=3,
        )
    v = eigvec[:, keep]
    y = v @ ((v.T @ (r_free / scale)) / eigval[keep])
    x = y / scale
    for k, col in enumerate(free_cols):
        result[elements[col]] = float(x[k])
    return dict(sorted(result.items()))


def average_e0s(
    configs: Iterable[Configuration],
    elements: Iterable[int] | None = None,
    *,
    fixed: Mapping[int, float] | None = None,
) -> dict[int, float]:
    """E0s by least squares on the compositions of ``configs`` (mace's ``"average"``).

    Isolated-atom frames and frames without an energy are left out. One pass, and memory
    independent of the number of structures (``configs`` may be a lazy store).

    Args:
        configs: The structures (of one head).
        elements: Elements to fit (default: all elements present).
        fixed: E0s already known, held fixed.

    Returns:
        ``{Z: E0}`` in eV.
    """
    gram = np.zeros((_MAX_Z, _MAX_Z))
    rhs = np.zeros(_MAX_Z)
    present: set[int] = set()
    rows = 0
    for c in configs:
        if c.energy is None or is_isolated_atom(c):
            continue
        zs, n = np.unique(c.atomic_numbers, return_counts=True)
        n = n.astype(np.float64)
        gram[np.ix_(zs, zs)] += np.outer(n, n)
        rhs[zs] += n * c.energy
        present.update(int(z) for z in zs)
        rows += 1
    if elements is None:
        elements = sorted(present)
    elements = [int(z) for z in elements]
    outside = sorted(present - set(elements))
    if outside:
        raise ValueError(f"the structures have elements {outside} outside {elements}")
    return solve_e0s(
        gram[np.ix_(elements, elements)], rhs[elements], elements, rows=rows, fixed=fixed
    )
