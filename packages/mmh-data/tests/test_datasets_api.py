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
def test_splits_follow_the_split_rule(name):
    """valid/test are held-out frames of training families, ood whole unseen families, and
    every element of every split occurs in train."""
    _present(name)
    meta = datasets.metadata(name)
    frames = {split: datasets.load_atoms(name, split) for split in meta["splits"]}
    fams = {split: {a.info["family"] for a in f} for split, f in frames.items()}
    for split in frames:
        assert fams[split] == set(meta["splits"][split]["families"])
    if name == "mol-base":
        assert set(meta["splits"]) == {"test"}
        return
    assert set(meta["splits"]) == {"train", "valid", "test", "ood"}
    assert fams["valid"] <= fams["train"] and fams["test"] <= fams["train"]
    assert not fams["ood"] & fams["train"]
    assert len(fams["ood"]) >= {"bulk": 6, "surf": 8}.get(name, 1)
    train_elements = {int(z) for a in frames["train"] for z in a.numbers}
    for split, f in frames.items():
        extra = {int(z) for a in f for z in a.numbers} - train_elements
        assert not extra, f"{name}/{split} has elements {extra} absent from train"
    # about 10 % of the frames of a training family in each holdout
    n_train = len(frames["train"]) + len(frames["valid"]) + len(frames["test"])
    assert 0.07 < len(frames["test"]) / n_train < 0.13
    # no geometry is in two splits (a relaxation may evaluate one geometry twice)
    where: dict[tuple, set[str]] = {}
    for split in frames:
        for a in frames[split]:
            where.setdefault((a.info["family"], a.positions.tobytes()), set()).add(split)
    assert all(len(s) == 1 for s in where.values())


def test_resplitting_reproduces_the_shipped_splits(tmp_path):
    """The split files are what the split rule gives for the recorded seed."""
    import shutil

    from mmh_data.datasets import _store
    from mmh_data.datasets._generate import resplit

    _present("bulk")
    src = datasets.path("bulk", "train").parent
    shutil.copytree(src, tmp_path / "bulk")
    seed = datasets.metadata("bulk")["split_rule"]["seed"]
    resplit("bulk", seed, tmp_path)
    for split in datasets.metadata("bulk")["splits"]:
        a, b = _store.load(src / f"{split}.npz"), _store.load(tmp_path / "bulk" / f"{split}.npz")
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{split}/{key}")


def test_mol_base_molecules_are_not_in_mol():
    _present("mol")
    _present("mol-base")
    formulas = {
        a.get_chemical_formula()
        for split in datasets.metadata("mol")["splits"]
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
