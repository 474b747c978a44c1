"""Domain-bridging sets: one frame, several label sets, one configuration per labelled head."""

from __future__ import annotations

import ase.db
import ase.io
import numpy as np
import pytest
from mmh_data import (
    BadLabelError,
    EmptyDatasetError,
    MalformedFileError,
    MissingFileError,
    UnknownHeadError,
    bridging_configurations,
    bridging_heads,
    read_bridging_frames,
    voigt_to_matrix,
)

LABELS = {
    "pbe": {"energy": "pbe_energy", "forces": "pbe_forces", "stress": "pbe_stress"},
    "r2scan": {"energy": "r2scan_energy", "forces": "r2scan_forces"},
}


def _frames(make_atoms):
    """Four crystals: both levels, PBE only, r2SCAN forces only, no label."""
    frames = make_atoms(4, periodic=True, stress=True, seed=3)
    rng = np.random.default_rng(0)
    out = []
    for k, atoms in enumerate(frames):
        a = atoms.copy()
        a.info = {"config_type": "dbs", "config_weight": 0.5 if k == 0 else 1.0}
        a.arrays = {"numbers": a.numbers, "positions": a.positions}
        n = len(a)
        if k in (0, 1):
            a.info["pbe_energy"] = -10.0 - k
            a.arrays["pbe_forces"] = rng.normal(size=(n, 3))
            a.info["pbe_stress"] = rng.normal(size=6) * 0.01
        if k == 0:
            a.info["r2scan_energy"] = -20.0
        if k in (0, 2):
            a.arrays["r2scan_forces"] = rng.normal(size=(n, 3))
        out.append(a)
    return out


def test_each_frame_goes_to_exactly_its_labelled_heads(make_atoms):
    frames = _frames(make_atoms)
    assert [bridging_heads(a, LABELS) for a in frames] == [
        ["pbe", "r2scan"],
        ["pbe"],
        ["r2scan"],
        [],
    ]
    out = bridging_configurations(frames, LABELS, source="dbs.xyz", indices=[10, 11, 12, 13])
    assert [c.source_index for c in out["pbe"]] == [10, 11]
    assert [c.source_index for c in out["r2scan"]] == [10, 12]
    both_pbe, both_r2 = out["pbe"][0], out["r2scan"][0]
    assert (both_pbe.head, both_r2.head) == ("pbe", "r2scan")
    assert both_pbe.energy == -10.0 and both_r2.energy == -20.0
    np.testing.assert_array_equal(both_pbe.forces, frames[0].arrays["pbe_forces"])
    np.testing.assert_array_equal(both_r2.forces, frames[0].arrays["r2scan_forces"])
    np.testing.assert_array_equal(both_pbe.stress, voigt_to_matrix(frames[0].info["pbe_stress"]))
    assert both_r2.stress is None and both_r2.stress_weight == 0
    assert both_pbe.weight == 0.5 and both_pbe.config_type == "dbs"
    np.testing.assert_array_equal(both_pbe.positions, both_r2.positions)
    forces_only = out["r2scan"][1]
    assert forces_only.energy is None and forces_only.energy_weight == 0
    assert forces_only.forces_weight == 1.0


def test_weight_and_files(make_atoms, tmp_path):
    frames = _frames(make_atoms)
    path = tmp_path / "dbs.extxyz"
    ase.io.write(path, frames, format="extxyz")
    back = read_bridging_frames(path)
    out = bridging_configurations(back, LABELS, source=str(path), weight=4.0)
    assert [c.weight for c in out["pbe"]] == [2.0, 4.0]
    assert out["pbe"][1].source_file == str(path)
    assert out["pbe"][1].energy == pytest.approx(-11.0)
    db = tmp_path / "dbs.db"
    with ase.db.connect(str(db)) as conn:
        for a in frames:
            conn.write(a, key_value_pairs={k: v for k, v in a.info.items() if np.isscalar(v)})
    assert len(read_bridging_frames(db)) == 4


def test_bad_inputs_name_frame_and_key(make_atoms, tmp_path):
    frames = _frames(make_atoms)
    frames[1].info["head"] = "pbe"
    with pytest.raises(UnknownHeadError, match="frame 1, key 'head'"):
        bridging_configurations(frames, LABELS, source="dbs.xyz")
    frames = _frames(make_atoms)
    frames[1].arrays["pbe_forces"] = frames[1].arrays["pbe_forces"][:, :2].copy()
    with pytest.raises(BadLabelError, match="frame 1, key 'pbe_forces'"):
        bridging_configurations(frames, LABELS)
    frames = _frames(make_atoms)
    frames[0].info["r2scan_energy"] = float("nan")
    with pytest.raises(BadLabelError, match="frame 0"):
        bridging_configurations(frames, LABELS)
    with pytest.raises(ValueError, match="moved into a calculator"):
        bridging_configurations(frames, {"pbe": {"energy": "energy"}})
    with pytest.raises(ValueError, match="unknown properties"):
        bridging_configurations(frames, {"pbe": {"virials": "pbe_virials"}})
    with pytest.raises(MissingFileError):
        read_bridging_frames(tmp_path / "nope.xyz")
    (tmp_path / "x.lmdb").write_text("")
    with pytest.raises(MalformedFileError, match="unknown file type"):
        read_bridging_frames(tmp_path / "x.lmdb")
    (tmp_path / "empty.xyz").write_text("")
    with pytest.raises(EmptyDatasetError):
        read_bridging_frames(tmp_path / "empty.xyz")
