"""Per-element reference energies (E0s): least squares on compositions, isolated atoms."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np
from ase.data import chemical_symbols

from ._configuration import Configuration
from ._errors import DataWarning, EmptyDatasetError

__all__ = ["ISOLATED_ATOM", "average_e0s", "fit_e0s", "is_isolated_atom", "isolated_atom_energies"]

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
    fixed = {int(z): float(e) for z, e in (fixed or {}).items()}
    A = np.asarray(compositions, dtype=np.float64).reshape(-1, len(elements))
    b = np.asarray(energies, dtype=np.float64).reshape(-1).copy()
    w = np.ones(len(b)) if counts is None else np.asarray(counts, dtype=np.float64)
    fixed_cols = [k for k, z in enumerate(elements) if z in fixed]
    free_cols = [k for k, z in enumerate(elements) if z not in fixed]
    if fixed_cols:
        b -= A[:, fixed_cols] @ np.array([fixed[elements[k]] for k in fixed_cols])
    result = {z: fixed[z] for z in elements if z in fixed}
    if not free_cols:
        return dict(sorted(result.items()))
    if len(b) == 0:
        raise EmptyDatasetError(
            f"{context}no structures with an energy to fit E0s of "
            f"{[_name(elements[k]) for k in free_cols]}"
        )
    sw = np.sqrt(w)
    M = A[:, free_cols] * sw[:, None]
    rhs = b * sw
    # Scale columns so that the rank test does not depend on typical counts.
    scale = np.linalg.norm(M, axis=0)
    scale[scale == 0] = 1.0
    _, s, vt = np.linalg.svd(M / scale, full_matrices=True)
    tol = max(M.shape) * np.finfo(np.float64).eps * (s[0] if s.size else 0.0)
    rank = int((s > tol).sum())
    if rank < len(free_cols):
        null = vt[rank:]
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
            stacklevel=2,
        )
    x, *_ = np.linalg.lstsq(M / scale, rhs, rcond=None)
    x = x / scale
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

    Isolated-atom frames and frames without an energy are left out.

    Args:
        configs: The structures (of one head).
        elements: Elements to fit (default: all elements present).
        fixed: E0s already known, held fixed.

    Returns:
        ``{Z: E0}`` in eV.
    """
    rows = [c for c in configs if c.energy is not None and not is_isolated_atom(c)]
    if elements is None:
        elements = sorted({int(z) for c in rows for z in c.atomic_numbers})
    elements = [int(z) for z in elements]
    index = {z: k for k, z in enumerate(elements)}
    A = np.zeros((len(rows), len(elements)))
    for r, c in enumerate(rows):
        for z in c.atomic_numbers:
            A[r, index[int(z)]] += 1
    b = np.array([c.energy for c in rows], dtype=np.float64)
    return fit_e0s(A, b, elements, fixed=fixed)
