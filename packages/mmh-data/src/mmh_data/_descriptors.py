"""Model-free per-structure descriptors, for diversity-driven replay selection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ._configuration import Configuration
from ._neighbours import neighbour_list

__all__ = ["structure_descriptors"]


def _one(
    config: Configuration, index: dict[int, int], cutoff: float, centres: np.ndarray, width: float
) -> np.ndarray:
    n_el = len(index)
    n_bins = centres.shape[0]
    comp = np.zeros(n_el)
    rdf = np.zeros((n_el, n_bins))
    species = np.array([index[int(z)] for z in config.atomic_numbers], dtype=np.int64)
    np.add.at(comp, species, 1.0)
    edge_index, shifts = neighbour_list(config.positions, config.cell, config.pbc, cutoff)
    if edge_index.shape[1]:
        i, j = edge_index
        vec = config.positions[j] - config.positions[i] + shifts @ config.cell
        dist = np.linalg.norm(vec, axis=1)
        # Gaussian-smeared histogram, weighted by a smooth cosine cutoff
        smear = np.exp(-0.5 * ((dist[:, None] - centres[None, :]) / width) ** 2)
        smear *= (0.5 * (np.cos(np.pi * dist / cutoff) + 1.0))[:, None]
        np.add.at(rdf, species[i], smear)
    rdf /= np.maximum(comp, 1.0)[:, None]
    comp /= max(config.num_atoms, 1)
    return np.concatenate([comp, rdf.reshape(-1)])


def structure_descriptors(
    configs: Iterable[Configuration],
    *,
    cutoff: float = 5.0,
    n_bins: int = 16,
    elements: Sequence[int] | None = None,
) -> np.ndarray:
    """Composition plus element-resolved radial distribution of each structure.

    For each structure the descriptor is the fraction of each element, followed, for each
    element ``e``, by the Gaussian-smeared histogram of neighbour distances around atoms of
    ``e`` (averaged over those atoms, smoothly cut off at ``cutoff``). It needs no model,
    is invariant to rotations, translations and permutations, and is comparable across
    structures of different sizes.

    Args:
        configs: The structures.
        cutoff: Radius of the distance histogram in Å.
        n_bins: Histogram bins per element.
        elements: Elements spanning the descriptor (default: all present in ``configs``).

    Returns:
        ``[C, E * (1 + n_bins)]`` float64 array.
    """
    configs = list(configs) if elements is None else configs
    if elements is None:
        elements = sorted({int(z) for c in configs for z in np.unique(c.atomic_numbers)})
    index = {int(z): k for k, z in enumerate(elements)}
    centres = np.linspace(0.0, cutoff, n_bins)
    width = cutoff / n_bins
    rows = [_one(c, index, cutoff, centres, width) for c in configs]
    if not rows:
        return np.zeros((0, len(index) * (1 + n_bins)))
    return np.stack(rows)
