"""Physical sanity checks on a [`mmh_data.Configuration`][]: the cell, close atoms and the element
table."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from ase.data import chemical_symbols

from ._configuration import Configuration
from ._errors import BadCellError, CloseAtomsError, UnknownElementError
from ._neighbours import neighbour_list

__all__ = ["DEFAULT_MIN_DISTANCE", "check_configuration"]

#: Atoms closer than this (Å) are treated as a broken structure.
DEFAULT_MIN_DISTANCE = 0.1
_SEARCH_RADIUS = 2.0


def _symbol(z: int) -> str:
    return chemical_symbols[z] if 0 <= z < len(chemical_symbols) else f"Z={z}"


def check_configuration(
    config: Configuration,
    *,
    min_distance: float | None = DEFAULT_MIN_DISTANCE,
    elements: Iterable[int] | None = None,
    numbers_key: str = "numbers",
) -> None:
    """Raise if a structure has a degenerate periodic cell, atoms too close together or
    elements outside a table.

    Args:
        config: The structure to check.
        min_distance: Smallest allowed distance in Å between two atoms, periodic images
            included; ``None`` or ``0`` skips the check.
        elements: Allowed atomic numbers; ``None`` allows all.
        numbers_key: Name used for the atomic numbers in messages.

    Raises:
        BadCellError: A periodic direction has a zero cell vector, or the periodic cell
            vectors are linearly dependent (an all-zero cell with ``pbc=True``).
        CloseAtomsError: Two atoms are closer than ``min_distance``.
        UnknownElementError: An element is not in ``elements``.
    """
    loc = {"file": config.source_file, "frame": config.source_index}
    z = config.atomic_numbers
    if np.any(z < 1) or np.any(z > 118):
        bad = sorted(set(z[(z < 1) | (z > 118)].tolist()))
        raise UnknownElementError(f"invalid atomic numbers {bad}", key=numbers_key, **loc)
    if elements is not None:
        table = np.asarray(sorted(set(int(e) for e in elements)), dtype=np.int64)
        outside = ~np.isin(z, table)
        if outside.any():
            bad = sorted(set(z[outside].tolist()))
            raise UnknownElementError(
                f"element(s) {[_symbol(b) for b in bad]} (Z={bad}) are not in the element "
                f"table {[_symbol(int(e)) for e in table]}",
                key=numbers_key,
                **loc,
            )
    _check_cell(config, loc)
    if min_distance and config.num_atoms > 0:
        if config.num_atoms == 1 and not config.is_periodic:
            return
        # Cell lists get slow for tiny cutoffs (many empty cells): search a larger sphere
        # and filter by distance.
        search = max(float(min_distance), _SEARCH_RADIUS)
        edge_index, shifts = neighbour_list(config.positions, config.cell, config.pbc, search)
        if edge_index.shape[1] == 0:
            return
        vec = (
            config.positions[edge_index[1]] - config.positions[edge_index[0]] + shifts @ config.cell
        )
        dist = np.linalg.norm(vec, axis=1)
        close = np.flatnonzero(dist < min_distance)
        if close.size:
            k = int(close[np.argmin(dist[close])])
            i, j = edge_index[:, k]
            raise CloseAtomsError(
                f"atoms {int(i)} and {int(j)} (shift {shifts[k].tolist()}) are "
                f"{dist[k]:.4f} Å apart, closer than {min_distance} Å",
                key="positions",
                **loc,
            )


def _check_cell(config: Configuration, loc: dict) -> None:
    periodic = np.asarray(config.pbc, dtype=bool).reshape(-1)
    if not periodic.any():
        return
    cell = np.asarray(config.cell, dtype=np.float64).reshape(3, 3)
    sub = cell[periodic]
    if np.linalg.matrix_rank(sub) < sub.shape[0]:
        raise BadCellError(
            f"pbc {periodic.tolist()} needs non-zero, linearly independent cell vectors "
            f"along the periodic directions; got cell {cell.tolist()} (give the cell, or "
            "set pbc to false for a molecule)",
            key="cell",
            **loc,
        )
