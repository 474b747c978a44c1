"""The bundled datasets: loading, splits, metadata, export, deterministic builders."""

from __future__ import annotations

import time

import numpy as np
import pytest
from mmh_data import datasets

NAMES = ["bulk", "surf", "mol", "mol-base"]


def _present(name):
    if name not in datasets.names():
        pytest.skip(f"dataset {name} not generated in this checkout")


@pytest.mark.parametrize("name", NAMES)
def test_load_is_fast_and_labelled(name):
    _present(name)
    for split in datasets.metadata(name)["splits"]:
        start = time.perf_counter()
        frames = datasets.load_atoms(name, split)
        elapsed = time.perf_counter() - start
        assert elapsed < 4.0, f"{name}/{split} took {elapsed:.2f} s to load"
        assert len(frames) == datasets.metadata(name)["splits"][split]["frames"]
        atoms = frames[len(frames) // 2]
        assert np.isfinite(atoms.info["REF_energy"])
        assert atoms.arrays["REF_forces"].shape == (len(atoms), 3)
        assert "head" not in atoms.info
        assert atoms.info["config_type"] and atoms.info["family"]
        assert ("REF_stress" in atoms.info) == (name == "bulk")
        if name == "bulk":
            assert atoms.info["REF_stress"].shape == (6,)
            assert all(a.pbc.all() for a in frames)


@pytest.mark.parametrize("name", NAMES)
def test_splits_are_disjoint_by_family(name):
    _present(name)
    meta = datasets.metadata(name)
    seen: dict[str, str] = {}
    for split in meta["splits"]:
        fams = {a.info["family"] for a in datasets.load_atoms(name, split)}
        assert fams == set(meta["splits"][split]["families"])
        for fam in fams:
            assert seen.setdefault(fam, split) == split, f"{fam} in two splits"
    if name == "mol-base":
        assert set(meta["splits"]) == {"test"}
    else:
        assert set(meta["splits"]) == {"train", "valid", "test"}


def test_mol_base_molecules_are_not_in_mol():
    _present("mol")
    _present("mol-base")
    formulas = {
        a.get_chemical_formula()
        for split in ("train", "valid", "test")
        for a in datasets.load_atoms("mol", split)
        if a.info["config_type"] != "dimer"
    }
    base = {a.get_chemical_formula() for a in datasets.load_atoms("mol-base", "test")}
    assert not formulas & base


@pytest.mark.parametrize("name", NAMES)
def test_metadata_has_provenance_and_e0s(name):
    _present(name)
    meta = datasets.metadata(name)
    prov = meta["provenance"]
    assert prov["code"] == "tblite"
    assert prov["method"] == ("GFN2-xTB" if name == "mol" else "GFN1-xTB")
    assert prov["versions"]["tblite"] != "absent"
    assert prov["settings"]["electronic_temperature"] > 0
    assert prov["settings"]["accuracy"] > 0
    assert prov["command"].startswith("mmh-data datasets generate")
    assert prov["wall_s"] > 0 and prov["cpu_s"] > 0
    assert "seed" in prov and "generated" in prov
    e0 = datasets.isolated_atom_energies(name)
    present = {
        int(z)
        for split in meta["splits"]
        for z in np.unique(datasets.load_arrays(name, split)["numbers"])
    }
    assert present <= set(e0)
    assert all(v < 0 for v in e0.values())


def test_shipped_files_are_small():
    total = sum(
        f.stat().st_size
        for name in datasets.names()
        for f in datasets.path(name, next(iter(datasets.metadata(name)["splits"]))).parent.iterdir()
    )
    assert total < 25e6


def test_unknown_names_fail_loudly():
    with pytest.raises(KeyError, match="unknown dataset"):
        datasets.metadata("nope")
    if "mol-base" in datasets.names():
        with pytest.raises(KeyError, match="no split"):
            datasets.path("mol-base", "train")


def test_export_extxyz_roundtrip(tmp_path):
    _present("bulk")
    from ase.io import read
    from mmh_data.datasets.cli import main

    out = tmp_path / "valid.xyz"
    assert main(["export", "bulk", "valid", "-o", str(out)]) == 0
    back = read(out, index=":")
    ref = datasets.load_atoms("bulk", "valid")
    assert len(back) == len(ref)
    a, b = back[-1], ref[-1]
    assert np.allclose(a.positions, b.positions, atol=1e-8)
    assert np.isclose(a.info["REF_energy"], b.info["REF_energy"], atol=1e-8)
    assert np.allclose(a.arrays["REF_forces"], b.arrays["REF_forces"], atol=1e-8)
    assert np.allclose(a.info["REF_stress"], b.info["REF_stress"], atol=1e-10)


def test_cli_register_adds_datasets_group():
    import argparse

    from mmh_data.datasets.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["datasets", "generate", "all", "--workers", "3", "--seed", "7"])
    assert (args.name, args.workers, args.seed) == ("all", 3, 7)
    args = parser.parse_args(["datasets", "export", "mol", "test", "-o", "x.xyz"])
    assert args.split == "test"
