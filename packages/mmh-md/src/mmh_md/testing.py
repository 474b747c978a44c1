"""Test helpers of mmh-md: the pair data LAMMPS's ML-IAP would hand a unified model,
built from an ASE structure, to check an ML-IAP class without LAMMPS."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from mmh_data import neighbour_list

__all__ = ["MliapPairData", "mliap_pair_data"]


class MliapPairData:
    """The arrays of an ML-IAP step, and LAMMPS's handling of what the model returns.

    Atoms ``0 .. nlocal-1`` are the structure's own atoms, the rest periodic images
    (ghosts). ``update_pair_forces(fij)`` does what LAMMPS does: ``f[i] += fij``,
    ``f[j] -= fij`` and ``virial -= rij ⊗ fij``;
    [`local_forces`][mmh_md.testing.MliapPairData.local_forces] then adds the ghost forces to their
    owners (LAMMPS's reverse communication).

    Attributes:
        nlocal, ntotal, nlistatoms, npairs: Counts.
        elems: ``[ntotal]`` element index of each atom.
        pair_i, pair_j: ``[npairs]`` atom indices; rij: ``[npairs, 3]`` ``x_j - x_i``.
        ielems, jelems: ``[npairs]`` element indices of ``i`` and ``j``.
        owner: ``[ntotal]`` the local atom each atom is an image of.
        eatoms: ``[nlistatoms]`` per-atom energies, written by the model.
        energy: The energy, written by the model.
        forces: ``[ntotal, 3]``; virial: ``[3, 3]``.
    """

    def __init__(self, **arrays: np.ndarray) -> None:
        for name, value in arrays.items():
            setattr(self, name, value)
        self.npairs = int(self.pair_i.shape[0])
        self.eatoms = np.zeros(self.nlistatoms)
        self.energy = 0.0
        self.forces = np.zeros((self.ntotal, 3))
        self.virial = np.zeros((3, 3))

    def update_pair_forces(self, fij: np.ndarray) -> None:
        """Apply pair forces as LAMMPS does."""
        fij = np.asarray(fij, dtype=float)
        np.add.at(self.forces, self.pair_i, fij)
        np.add.at(self.forces, self.pair_j, -fij)
        self.virial -= self.rij.T @ fij

    def local_forces(self) -> np.ndarray:
        """Forces on the local atoms, ghost forces added to their owners."""
        out = np.zeros((self.nlocal, 3))
        np.add.at(out, self.owner, self.forces)
        return out


def mliap_pair_data(
    atoms: Atoms,
    element_types: Sequence[str],
    cutoff: float,
    layers: int,
    *,
    ghost_pairs: bool = True,
) -> MliapPairData:
    """ML-IAP pair data of a periodic structure on one process.

    Ghost atoms are the periodic images within ``layers * cutoff`` of the structure's
    atoms; pairs within ``cutoff`` are listed for every local atom and, with
    ``ghost_pairs``, for every ghost (a neighbour list over ghosts), as a model with
    ``layers`` message-passing layers needs.

    Args:
        atoms: The structure (periodic or not).
        element_types: The ML-IAP element types (symbols); ``elems`` index them.
        cutoff: The model's cutoff.
        layers: Message-passing layers of the model.
        ghost_pairs: List pairs of ghost atoms too.

    Returns:
        The pair data.
    """
    pos, cell, pbc = atoms.positions, np.asarray(atoms.cell.array), atoms.pbc
    n = len(atoms)
    # ghosts: images (j, S) within layers * cutoff of a local atom
    ei, shifts = neighbour_list(pos, cell, pbc, layers * cutoff)
    images = {(k, 0, 0, 0): k for k in range(n)}
    for j, s in zip(ei[1], shifts, strict=True):
        key = (int(j), *map(int, s))
        if key not in images:
            images[key] = len(images)
    keys = list(images)
    owner = np.array([k[0] for k in keys])
    offset = np.array([k[1:] for k in keys], dtype=float)
    x = pos[owner] + offset @ cell
    base_i, base_s = neighbour_list(pos, cell, pbc, cutoff)
    by_atom: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, j, s in zip(base_i[0], base_i[1], base_s, strict=True):
        by_atom.setdefault(int(i), []).append((int(j), s))
    pair_i, pair_j = [], []
    centres = range(len(keys)) if ghost_pairs else range(n)
    for a in centres:
        a_shift = np.array(keys[a][1:])
        for j, s in by_atom.get(int(owner[a]), []):
            b = images.get((j, *map(int, a_shift + s)))
            if b is not None:
                pair_i.append(a)
                pair_j.append(b)
    pair_i, pair_j = np.array(pair_i, dtype=np.int64), np.array(pair_j, dtype=np.int64)
    index = {e: k for k, e in enumerate(element_types)}
    elems = np.array([index[atoms.get_chemical_symbols()[k]] for k in owner], dtype=np.int64)
    nlist = len(keys) if ghost_pairs else n
    return MliapPairData(
        nlocal=n,
        ntotal=len(keys),
        nlistatoms=nlist,
        elems=elems,
        pair_i=pair_i,
        pair_j=pair_j,
        rij=x[pair_j] - x[pair_i],
        ielems=elems[pair_i],
        jelems=elems[pair_j],
        owner=owner,
    )
