"""The bundled domain-bridging set ``bridge``: drawn from training splits only, both levels on
every structure, labels that tblite reproduces."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from mmh_data import datasets

SOURCES = ("mol", "surf", "bulk")


@pytest.fixture(scope="module")
def frames():
    if "bridge" not in datasets.bridging_names():
        pytest.skip("the bridge dataset is not generated in this checkout")
    return datasets.load_atoms("bridge", "train")


def test_listed_apart_from_the_single_level_datasets(frames):
    assert "bridge" not in datasets.names()
    assert datasets.bridging_names() == ["bridge"]
    assert set(datasets.metadata("bridge")["splits"]) == {"train"}
    levels = datasets.label_levels("bridge")
    assert levels["gfn1"] == {
        "method": "GFN1-xTB",
        "energy": "gfn1_energy",
        "forces": "gfn1_forces",
        "stress": "gfn1_stress",
    }
    assert levels["gfn2"]["method"] == "GFN2-xTB"
    assert datasets.label_levels("mol")["REF"]["energy"] == "REF_energy"


def test_structures_come_from_training_splits_only(frames):
    assert 250 <= len(frames) <= 400
    sources = {s: datasets.load_atoms(s, "train") for s in SOURCES}
    unseen = {s: set(datasets.metadata(s)["splits"]["ood"]["families"]) for s in SOURCES}
    held_out = {
        s: {
            a.positions.tobytes()
            for split in ("valid", "test")
            for a in datasets.load_atoms(s, split)
        }
        for s in SOURCES
    }
    seen = set()
    for atoms in frames:
        source, index = atoms.info["source"], atoms.info["source_index"]
        assert source in SOURCES  # never mol-base
        original = sources[source][index]
        np.testing.assert_array_equal(atoms.numbers, original.numbers)
        np.testing.assert_array_equal(atoms.positions, original.positions)
        np.testing.assert_array_equal(atoms.cell.array, original.cell.array)
        family = atoms.info["family"]
        assert family == f"{source}:{original.info['family']}"
        assert original.info["family"] not in unseen[source]
        assert atoms.positions.tobytes() not in held_out[source]
        assert atoms.info["config_type"] == original.info["config_type"]
        seen.add((source, index))
    assert len(seen) == len(frames)  # no structure twice
    assert {a.info["source"] for a in frames} == set(SOURCES)


def test_both_levels_on_every_structure(frames):
    sources = {s: datasets.load_atoms(s, "train") for s in SOURCES}
    forces_differ = 0
    for atoms in frames:
        source = atoms.info["source"]
        for level in ("gfn1", "gfn2"):
            assert np.isfinite(atoms.info[f"{level}_energy"])
            assert atoms.arrays[f"{level}_forces"].shape == (len(atoms), 3)
            assert (f"{level}_stress" in atoms.info) == (source == "bulk")
        # the source's own level is its stored label; the other level is a different PES
        native = "gfn2" if source == "mol" else "gfn1"
        other = "gfn1" if native == "gfn2" else "gfn2"
        original = sources[source][atoms.info["source_index"]]
        assert abs(atoms.info[f"{native}_energy"] - original.info["REF_energy"]) < 1e-6
        np.testing.assert_allclose(
            atoms.arrays[f"{native}_forces"], original.arrays["REF_forces"], atol=1e-5
        )
        if source == "bulk":
            np.testing.assert_allclose(
                atoms.info[f"{native}_stress"], original.info["REF_stress"], atol=1e-7
            )
        assert abs(atoms.info[f"{other}_energy"] - original.info["REF_energy"]) > 1e-3
        dforces = atoms.arrays[f"{other}_forces"] - original.arrays["REF_forces"]
        forces_differ += bool(np.abs(dforces).max() > 1e-3)
    # (a few high-symmetry cells have zero forces at both levels)
    assert forces_differ >= 0.9 * len(frames)


def test_metadata_provenance_and_level_e0s(frames):
    meta = datasets.metadata("bridge")
    prov = meta["provenance"]
    assert prov["methods"] == ["GFN1-xTB", "GFN2-xTB"]
    assert prov["wall_s"] > 0 and prov["cpu_s"] > 0
    assert set(prov["sources"]) == set(SOURCES)
    assert all(s["split"] == "train" for s in prov["sources"].values())
    dev = prov["native_label_max_deviation"]
    assert dev["energy"] < 1e-6 and dev["forces"] < 1e-5 and dev["stress"] < 1e-7
    split = meta["splits"]["train"]
    assert split["frames"] == len(frames) == sum(split["sources"].values())
    present = {int(z) for a in frames for z in a.numbers}
    e1 = datasets.isolated_atom_energies("bridge", "gfn1")
    e2 = datasets.isolated_atom_energies("bridge", "gfn2")
    assert present <= set(e1) and present <= set(e2)
    # GFN1 free atoms are those of the GFN1 datasets
    for z, e in datasets.isolated_atom_energies("bulk").items():
        if z in e1:
            assert e1[z] == pytest.approx(e, abs=1e-8)
    assert e1[6] != pytest.approx(e2[6])
    assert meta["analysis"]["gfn2_minus_gfn1"]["std_ev_per_atom"] > 0.05
    with pytest.raises(KeyError, match="pass level="):
        datasets.isolated_atom_energies("bridge")
    with pytest.raises(KeyError, match="one level of theory"):
        datasets.isolated_atom_energies("mol", "gfn2")


def test_export_keeps_both_label_sets(frames, tmp_path):
    from ase.io import read
    from mmh_data import bridging_configurations
    from mmh_data.datasets.cli import main

    out = tmp_path / "bridge.xyz"
    assert main(["export", "bridge", "train", "-o", str(out)]) == 0
    back = read(out, index=":")
    assert len(back) == len(frames)
    labels = {
        lv: {p: k for p, k in d.items() if p != "method"}
        for lv, d in datasets.label_levels("bridge").items()
    }
    per_head = bridging_configurations(back, labels, source=str(out))
    assert len(per_head["gfn1"]) == len(per_head["gfn2"]) == len(frames)
    k = len(frames) - 1
    assert per_head["gfn2"][k].energy == pytest.approx(frames[k].info["gfn2_energy"], abs=1e-6)


def test_tblite_reproduces_both_levels(frames):
    pytest.importorskip("tblite")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    script = (
        "import json\nfrom mmh_data.datasets._verify import bridge_recompute\n"
        "print(json.dumps(bridge_recompute(per_source=1)))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    worst = json.loads(proc.stdout.strip().splitlines()[-1])
    assert worst["frames"] == 3
    assert worst["energy"] < 1e-6
    assert worst["forces"] < 1e-5
    assert worst["stress"] < 1e-7


def test_selection_spreads_over_families_and_keeps_reserves():
    from mmh_data.datasets._builders_bridge import RESERVE, select

    families = np.array(["a"] * 5 + ["b"] * 2 + ["c"])
    out = select("x", families, 5, seed=0)
    assert {f: len(chosen) for f, (chosen, _) in out.items()} == {"a": 2, "b": 2, "c": 1}
    chosen_a, reserve_a = out["a"]
    assert len(reserve_a) == min(RESERVE * 2, 5 - 2)
    assert not set(chosen_a) & set(reserve_a)
    assert all(families[i] == "a" for i in [*chosen_a, *reserve_a])
    assert out["b"][1] == [] and out["c"][1] == []
    assert select("x", families, 5, seed=0) == out
    assert select("y", families, 5, seed=0) != out or select("x", families, 5, seed=1) != out
