"""The bundled datasets of mmh, labelled with tblite (GFN1-xTB and GFN2-xTB).

=============  ===========  ==========================================================
name           level        content
=============  ===========  ==========================================================
``bulk``       GFN1-xTB     periodic crystals (energy, forces, stress); the base set
``surf``       GFN1-xTB     metal and oxide slabs with small adsorbates
``mol``        GFN2-xTB     small organic molecules, conformers, MD, dimers
``mol-base``   GFN1-xTB     other molecules at the base level (test split only)
``bridge``     GFN1 + GFN2  domain-bridging set: training structures of ``mol``,
                            ``surf`` and ``bulk`` labelled at both levels (``train``)
=============  ===========  ==========================================================

``names()`` lists the single-level datasets (labels under ``REF_*`` keys);
``bridging_names()`` the domain-bridging sets, whose frames carry one label set per level
(``gfn1_energy``, ``gfn1_forces``, ``gfn1_stress``, ``gfn2_energy``...).

Relative energies: the dimer frames of ``mol`` carry their interaction energy
(``info["REF_interaction_energy"]``; ``split_dimer`` gives the monomers), and
``load_adsorption()`` gives the adsorption set of ``surf`` (relaxed slabs with and without
adsorbates, and gas references), whose adsorption energies ``adsorption_energies``
computes from total energies.

Example:
    >>> from mmh_data import datasets
    >>> frames = datasets.load_atoms("bulk", "train")
    >>> frames[0].info["REF_energy"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path

from . import _store
from ._relative import adsorption_energies, split_dimer

__all__ = [
    "adsorption_energies",
    "bridging_names",
    "isolated_atom_energies",
    "label_levels",
    "load_adsorption",
    "load_arrays",
    "load_atoms",
    "metadata",
    "names",
    "path",
    "split_dimer",
]

_DATA = Path(__file__).parent / "data"
_NAMES = ("bulk", "surf", "mol", "mol-base")
_BRIDGING = ("bridge",)


def names() -> list[str]:
    """Names of the single-level bundled datasets present in this installation."""
    return [n for n in _NAMES if (_DATA / n / "metadata.json").exists()]


def bridging_names() -> list[str]:
    """Names of the bundled domain-bridging sets present in this installation.

    Their frames carry one label set per level of theory (see `label_levels`); use
    them in the ``bridging`` section of an ``mmh-train`` configuration.
    """
    return [n for n in _BRIDGING if (_DATA / n / "metadata.json").exists()]


def _check(name: str) -> None:
    if name not in _NAMES + _BRIDGING:
        known = list(_NAMES + _BRIDGING)
        raise KeyError(f"unknown dataset {name!r}; the bundled datasets are {known}")
    if not (_DATA / name / "metadata.json").exists():
        raise FileNotFoundError(
            f"dataset {name!r} is not in this installation; "
            f"generate it with `mmh-data datasets generate {name}`"
        )


def path(name: str, split: str) -> Path:
    """Path of the ``.npz`` file that holds ``split`` of dataset ``name``.

    Args:
        name: Dataset name, one of `names`.
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
    """The raw concatenated arrays of a split (see `mmh_data.datasets._store`)."""
    return _store.load(path(name, split))


def load_atoms(name: str, split: str) -> list:
    """Load a split as a list of ``ase.Atoms``.

    Labels are in ``info["REF_energy"]`` (eV), ``arrays["REF_forces"]`` (eV/Å) and, for
    ``bulk``, ``info["REF_stress"]`` (Voigt xx yy zz yz xz xy, eV/Å³, ASE sign); each frame
    also has ``info["config_type"]`` and ``info["family"]`` (its structure family).
    Frames of a domain-bridging set (``bridge``) carry one label set per level instead,
    under the keys of `label_levels`, and their ``info["source"]`` and
    ``info["source_index"]`` (dataset and index in its ``train`` split).

    Args:
        name: Dataset name, one of `names`.
        split: ``"train"``, ``"valid"`` or ``"test"``.

    Returns:
        The frames, in file order.
    """
    if name in _BRIDGING:
        from ._bridge import to_atoms

        return to_atoms(load_arrays(name, split))
    return _store.to_atoms(load_arrays(name, split))


def load_adsorption() -> list:
    """The adsorption set of ``surf`` as ``ase.Atoms``: relaxed slabs with and without
    adsorbates and the gas references, one frame per ``info["family"]``; the reference
    adsorption energies are ``metadata("surf")["relative"]["adsorption"]``. See
    `adsorption_energies` and ``mmh_data.datasets._relative``."""
    return _store.to_atoms(_store.load(_DATA / "surf" / "adsorption.npz"))


def label_levels(name: str) -> dict[str, dict[str, str]]:
    """The label keys of each level of theory of a dataset.

    Args:
        name: Dataset name.

    Returns:
        ``{level: {"method": ..., "energy": key, "forces": key, "stress": key}}``; one
        level (``"REF"``) for a single-level dataset, e.g. ``{"gfn1": {"method":
        "GFN1-xTB", "energy": "gfn1_energy", ...}, "gfn2": {...}}`` for ``bridge``.
    """
    meta = metadata(name)
    if "levels" in meta:
        return {lv: {"method": v["method"], **v["keys"]} for lv, v in meta["levels"].items()}
    return {"REF": {"method": meta["provenance"]["method"], **meta["keys"]}}


def _metadata_text(name: str) -> str:
    return (_DATA / name / "metadata.json").read_text()


def metadata(name: str) -> dict:
    """Metadata of a dataset: provenance, isolated-atom energies, split sizes, element counts.

    Args:
        name: Dataset name, one of `names`.

    Returns:
        A fresh dict parsed from the dataset's ``metadata.json``.
    """
    _check(name)
    return json.loads(_metadata_text(name))


def isolated_atom_energies(name: str, level: str | None = None) -> dict[int, float]:
    """Energies (eV) of the free atoms at the dataset's level of theory, ``{Z: E}``.

    Args:
        name: Dataset name.
        level: For a dataset with several levels (``bridge``): which one (``"gfn1"``,
            ``"gfn2"``); must be left out for a single-level dataset.

    Raises:
        KeyError: ``level`` missing for a multi-level dataset, or unknown.
    """
    meta = metadata(name)
    if "levels" in meta:
        if level not in meta["levels"]:
            raise KeyError(
                f"dataset {name!r} has the levels {sorted(meta['levels'])}; "
                f"pass level= one of them (got {level!r})"
            )
        table = meta["levels"][level]["isolated_atom_energies"]
    elif level is not None:
        raise KeyError(f"dataset {name!r} has one level of theory; leave level out")
    else:
        table = meta["isolated_atom_energies"]
    return {int(z): float(e) for z, e in table.items()}
