"""Shared fixtures of the mmh-data tests."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms


def _random_molecule(rng: np.random.Generator, n: int, elements=(1, 6, 8)) -> Atoms:
    # Place atoms one by one at >= 0.9 Å from all others.
    pos = [np.zeros(3)]
    while len(pos) < n:
        trial = pos[rng.integers(len(pos))] + rng.normal(size=3) * 1.2
        if min(np.linalg.norm(trial - p) for p in pos) > 0.9:
            pos.append(trial)
    return Atoms(numbers=rng.choice(elements, size=n), positions=np.array(pos))


@pytest.fixture
def make_atoms():
    """Factory of labelled random molecules/crystals as ``ase.Atoms``.

    ``make_atoms(count, n=6, periodic=False, seed=0, elements=(1, 6, 8), stress=False)``
    """

    def make(count, n=6, periodic=False, seed=0, elements=(1, 6, 8), stress=False):
        rng = np.random.default_rng(seed)
        frames = []
        for _ in range(count):
            atoms = _random_molecule(rng, n, elements)
            if periodic:
                atoms.cell = np.diag([6.0, 6.5, 7.0]) + rng.normal(size=(3, 3)) * 0.3
                atoms.pbc = True
            atoms.info["REF_energy"] = float(rng.normal() - 3.0 * n)
            atoms.arrays["REF_forces"] = rng.normal(size=(n, 3))
            if stress:
                atoms.info["REF_stress"] = rng.normal(size=6) * 0.01
            frames.append(atoms)
        return frames

    return make


@pytest.fixture
def make_configs(make_atoms):
    """Factory of :class:`mmh_data.Configuration` lists (same arguments as make_atoms,
    plus ``head``)."""
    import warnings

    from mmh_data import configurations_from_atoms

    def make(count, head="Default", **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return configurations_from_atoms(make_atoms(count, **kwargs), head=head)

    return make
