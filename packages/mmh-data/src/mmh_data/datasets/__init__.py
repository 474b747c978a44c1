"""The bundled datasets of mmh, labelled with tblite (GFN1-xTB and GFN2-xTB).

=============  ===========  ==========================================================
name           level        content
=============  ===========  ==========================================================
``bulk``       GFN1-xTB     periodic crystals (energy, forces, stress); the base set
``surf``       GFN1-xTB     metal and oxide slabs with small adsorbates
``mol``        GFN2-xTB     small organic molecules, conformers, MD, dimers
``mol-base``   GFN1-xTB     other molecules at the base level (test split only)
=============  ===========  ==========================================================

Example:
    >>> from mmh_data import datasets
    >>> frames = datasets.load_atoms("bulk", "train")
    >>> frames[0].info["REF_energy"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

from . import _store

__all__ = ["isolated_atom_energies", "load_arrays", "load_atoms", "metadata", "names", "path"]

_DATA = Path(__file__).parent / "data"
_NAMES = ("bulk", "surf", "mol", "mol-base")


def names() -> list[str]:
    """Names of the bundled datasets that are present in this installation."""
    return [n for n in _NAMES if (_DATA / n / "metadata.json").exists()]


def _check(name: str) -> None:
    if name not in _NAMES:
        raise KeyError(f"unknown dataset {name!r}; the bundled datasets are {list(_NAMES)}")
    if not (_DATA / name / "metadata.json").exists():
        raise FileNotFoundError(
            f"dataset {name!r} is not in this installation; "
            f"generate it with `mmh-data datasets generate {name}`"
        )


def path(name: str, split: str) -> Path:
    """Path of the ``.npz`` file that holds ``split`` of dataset ``name``.

    Args:
        name: Dataset name, one of :func:`names`.
        split: ``"train"``, ``"valid"`` or ``"test"``.

    Raises:
        KeyError: If the dataset or the split does not exist (``mol-base`` has only ``test``).
    """
    _check(name)
    file = _DATA / name / f"{split}.npz"
    if not file.exists():
        have = sorted(metadata(name)["splits"])
        raise KeyError(f"dataset {name!r} has no split {split!r}; it has {have}")
    return file


def load_arrays(name: str, split: str) -> dict:
    """The raw concatenated arrays of a split (see :mod:`mmh_data.datasets._store`)."""
    return _store.load(path(name, split))


def load_atoms(name: str, split: str) -> list:
    """Load a split as a list of ``ase.Atoms``.

    Labels are in ``info["REF_energy"]`` (eV), ``arrays["REF_forces"]`` (eV/Å) and, for
    ``bulk``, ``info["REF_stress"]`` (Voigt xx yy zz yz xz xy, eV/Å³, ASE sign); each frame
    also has ``info["config_type"]`` and ``info["family"]`` (its structure family).

    Args:
        name: Dataset name, one of :func:`names`.
        split: ``"train"``, ``"valid"`` or ``"test"``.

    Returns:
        The frames, in file order.
    """
    return _store.to_atoms(load_arrays(name, split))


def _metadata_text(name: str) -> str:
    return (_DATA / name / "metadata.json").read_text()


def metadata(name: str) -> dict:
    """Metadata of a dataset: provenance, isolated-atom energies, split sizes, element counts.

    Args:
        name: Dataset name, one of :func:`names`.

    Returns:
        A fresh dict parsed from the dataset's ``metadata.json``.
    """
    _check(name)
    return json.loads(_metadata_text(name))


def isolated_atom_energies(name: str) -> dict[int, float]:
    """Energies (eV) of the free atoms at the dataset's level of theory, ``{Z: E}``."""
    return {int(z): float(e) for z, e in metadata(name)["isolated_atom_energies"].items()}
