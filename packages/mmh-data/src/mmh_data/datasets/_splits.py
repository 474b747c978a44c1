"""How the frames of a bundled dataset are split: in-distribution holdouts and unseen families.

- ``ood`` (out of distribution): whole structure families that training never sees, drawn
  in a seeded order among the families whose elements stay covered by the remaining
  (training) families, so that every element of every split is present in training.
- ``valid`` and ``test`` (in distribution): 10 % each of the frames of every training
  family, drawn in a seeded order within the family.
- ``train``: the rest.

``mol-base`` is a test set of other molecules, at the base level: all of it is ``test``.

The assignment depends only on the seed, each frame's family and its position within the
family in the order of generation (stored as ``family_index``), and every split is written
family by family (families sorted by name, frames by ``family_index``), so generating a
dataset and re-splitting its files give the same split files.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = [
    "HOLDOUT",
    "OOD_FAMILIES",
    "SPLITS",
    "assign_splits",
    "family_index",
    "split_order",
]

SPLITS = ("train", "valid", "test", "ood")
#: Fraction of each training family's frames held out for ``valid``, and again for ``test``.
HOLDOUT = 0.1
#: Number of unseen families per dataset (``mol``: a fifth of its families).
OOD_FAMILIES = {"bulk": 6, "surf": 8}
_OOD_FRACTION = 0.2


def _rng(name: str, what: str, seed: int) -> np.random.Generator:
    key = zlib.crc32(f"{name}/{what}".encode())
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


def _ood_families(name: str, elements: dict[str, set[int]], seed: int) -> set[str]:
    fams = sorted(elements)
    count = OOD_FAMILIES.get(name, max(1, round(_OOD_FRACTION * len(fams))))
    chosen: set[str] = set()
    for i in _rng(name, "ood", seed).permutation(len(fams)):
        if len(chosen) == count:
            break
        trial = chosen | {fams[i]}
        covered = set().union(*(elements[f] for f in fams if f not in trial))
        if set().union(*(elements[f] for f in trial)) <= covered:
            chosen = trial
    if len(chosen) < count:
        raise ValueError(
            f"{name}: only {len(chosen)} families can be held out with their elements "
            f"still in training; {count} asked"
        )
    return chosen


def family_index(families: np.ndarray) -> np.ndarray:
    """``[n]`` position of each frame within its family, in the given order."""
    families = np.asarray(families).astype(str)
    out = np.zeros(len(families), dtype=np.int64)
    seen: dict[str, int] = {}
    for k, fam in enumerate(families):
        out[k] = seen.get(fam, 0)
        seen[fam] = out[k] + 1
    return out


def assign_splits(
    name: str,
    families: np.ndarray,
    index: np.ndarray,
    numbers: list[np.ndarray],
    seed: int,
    geometry: list[bytes] | None = None,
):
    """The split of every frame.

    Args:
        name: Dataset name.
        families: ``[n]`` family of each frame.
        index: ``[n]`` position of each frame within its family (``family_index``).
        numbers: Atomic numbers of each frame.
        seed: The dataset's seed.
        geometry: A key per frame that is equal for frames of the same geometry (a
            relaxation may evaluate one geometry twice); such frames share a split.

    Returns:
        ``[n]`` array of split names (``train``, ``valid``, ``test``, ``ood``).
    """
    families = np.asarray(families).astype(str)
    out = np.full(len(families), "train", dtype="<U5")
    if name == "mol-base":
        out[:] = "test"
        return out
    elements: dict[str, set[int]] = {}
    for fam, zs in zip(families, numbers, strict=True):
        elements.setdefault(str(fam), set()).update(int(z) for z in np.unique(zs))
    ood = _ood_families(name, elements, seed)
    index = np.asarray(index)
    for fam in sorted(elements):
        members = np.flatnonzero(families == fam)
        members = members[np.argsort(index[members], kind="stable")]
        if fam in ood:
            out[members] = "ood"
            continue
        # groups of frames of one geometry, in order of first appearance
        group_of: dict[object, int] = {}
        groups = np.array(
            [
                group_of.setdefault(k if geometry is None else geometry[m], len(group_of))
                for k, m in enumerate(members)
            ]
        )
        n_groups = len(group_of)
        n_hold = round(HOLDOUT * n_groups)
        order = _rng(name, f"holdout/{fam}", seed).permutation(n_groups)
        out[members[np.isin(groups, order[:n_hold])]] = "test"
        out[members[np.isin(groups, order[n_hold : 2 * n_hold])]] = "valid"
    return out


def split_order(families: np.ndarray, index: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """``frames`` (the frames of one split) ordered family by family, families by name,
    each family's frames by their ``family_index`` ``index``."""
    families = np.asarray(families).astype(str)
    return frames[np.lexsort((np.asarray(index)[frames], families[frames]))]
