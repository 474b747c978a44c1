"""The mmh-data command line."""

from __future__ import annotations

import json

import ase.io
import pytest
from mmh_data import LMDBReader, read_configurations
from mmh_data.cli import build_parser, main


@pytest.fixture
def xyz(tmp_path, make_atoms):
    frames = make_atoms(6, periodic=True, stress=True)
    frames[5].info["head"] = "r2scan"
    path = tmp_path / "train.xyz"
    ase.io.write(path, frames, format="extxyz")
    return path


def test_convert_writes_store_and_prints_statistics(tmp_path, xyz, capsys):
    out = tmp_path / "train.lmdb"
    rc = main(
        [
            "convert",
            str(xyz),
            "-o",
            str(out),
            "--head",
            "pbe",
            "--heads",
            "pbe,r2scan",
            "--cutoff",
            "4.0",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "wrote 6 structures" in text and "head 'pbe'" in text and "head 'r2scan'" in text
    store = LMDBReader(out)
    assert len(store) == 6 and store.metadata["heads"] == {"pbe": 5, "r2scan": 1}
    assert store.metadata["keys"]["energy"] == "REF_energy"
    assert set(store.metadata["statistics"]) == {"pbe", "r2scan"}
    original = read_configurations(xyz, head="pbe")
    assert [c.energy for c in store] == [c.energy for c in original]


def test_stats_json(xyz, capsys):
    assert main(["stats", str(xyz), "--json", "--cutoff", "4.0", "--e0s", "average"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert set(stats) == {"Default", "r2scan"}
    assert stats["Default"]["num_configs"] == 5 and stats["Default"]["cutoff"] == 4.0


def test_custom_keys(tmp_path, make_atoms, capsys):
    frames = make_atoms(3)
    for a in frames:
        a.info["E"] = a.info.pop("REF_energy")
    path = tmp_path / "k.xyz"
    ase.io.write(path, frames)
    assert main(["stats", str(path), "--energy-key", "E", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["Default"]["num_energy"] == 3


def test_errors_are_reported_with_location(tmp_path, xyz, capsys):
    assert main(["stats", str(tmp_path / "missing.xyz")]) == 2
    assert "missing.xyz" in capsys.readouterr().err
    assert main(["stats", str(xyz), "--heads", "pbe", "--head", "pbe"]) == 2
    err = capsys.readouterr().err
    assert "frame 5" in err and "'head'" in err and "r2scan" in err


def test_select(tmp_path, xyz, capsys):
    out = tmp_path / "replay.xyz"
    assert (
        main(
            [
                "select",
                str(xyz),
                "-n",
                "3",
                "-o",
                str(out),
                "--method",
                "fps",
                "--assign-head",
                "pt_head",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    frames = ase.io.read(out, ":")
    assert len(frames) == 3 and {a.info["head"] for a in frames} == {"pt_head"}
    assert main(["select", str(xyz), "-n", "7", "-o", str(out)]) == 2
    assert "only 6 of 6" in capsys.readouterr().err


def test_subcommands_present():
    parser = build_parser()
    choices = parser._subparsers._group_actions[0].choices
    assert {"convert", "stats", "select"} <= set(choices)
