"""``mmh-train evaluate --output``: per-structure predictions that re-read to the printed
errors."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from heads_for_tests import tiny_model
from mmh_heads import save_model
from mmh_train import prediction_keys
from mmh_train.cli import main
from train_kit import write_frames


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return save_model(
        tiny_model(extra_heads=("mol",)), tmp_path_factory.mktemp("m") / "m.safetensors"
    )


def _maes(frames, head):
    keys = prediction_keys(head)
    e, f, s = [], [], []
    for atoms in frames:
        if "REF_energy" in atoms.info:
            e.append((atoms.info[keys["energy"]] - atoms.info["REF_energy"]) / len(atoms))
        if "REF_forces" in atoms.arrays:
            f.append((atoms.arrays[keys["forces"]] - atoms.arrays["REF_forces"]).ravel())
        if "REF_stress" in atoms.info:
            s.append(np.asarray(atoms.info[keys["stress"]]) - np.asarray(atoms.info["REF_stress"]))
    out = {
        "energy_mae": 1000 * np.mean(np.abs(e)),
        "forces_mae": 1000 * np.mean(np.abs(np.concatenate(f))),
    }
    if s:
        # Voigt: the off-diagonal components stand for two entries each of the 3x3 tensor
        d = np.asarray(s)
        full = np.concatenate([np.abs(d[:, :3]), np.abs(d[:, 3:]), np.abs(d[:, 3:])], axis=1)
        out["stress_mae"] = 1000 * full.mean()
    return out


def test_predictions_reread_to_the_printed_errors(tmp_path, model_file, capsys):
    data = write_frames(tmp_path / "bulk.xyz", "bulk", "test", 5)
    pred, metrics = tmp_path / "pred.extxyz", tmp_path / "m.json"
    argv = ["evaluate", "--model", str(model_file), "--head", "bulk", "--files", str(data)]
    assert main([*argv, "--output", str(pred), "--json", str(metrics)]) == 0
    out = capsys.readouterr().out
    assert f"predictions: {pred}" in out
    frames = ase.io.read(pred, ":")
    assert len(frames) == 5
    keys = prediction_keys("bulk")
    assert keys == {
        "energy": "MMH_bulk_energy",
        "forces": "MMH_bulk_forces",
        "stress": "MMH_bulk_stress",
    }
    for atoms in frames:
        assert keys["energy"] in atoms.info and atoms.arrays[keys["forces"]].shape == (
            len(atoms),
            3,
        )
        assert np.asarray(atoms.info[keys["stress"]]).shape == (6,)
    printed = json.loads(metrics.read_text())["bulk"]
    reread = _maes(frames, "bulk")
    assert set(reread) == {"energy_mae", "forces_mae", "stress_mae"}
    for key, value in reread.items():
        # extended XYZ keeps 8 decimals of eV/Å: 1e-5 meV/Å, far below the printed 0.01
        assert value == pytest.approx(printed[key], rel=1e-6, abs=1e-4), key
    # the printed table shows the same numbers
    row = next(line for line in out.splitlines() if line.startswith("bulk "))
    assert f"{printed['energy_mae']:.2f}" in row and f"{printed['forces_mae']:.2f}" in row


def test_molecules_get_no_stress_and_another_head_its_own_keys(tmp_path, model_file, capsys):
    data = write_frames(tmp_path / "mol.xyz", "mol", "test", 3)
    pred = tmp_path / "mol-pred.extxyz"
    argv = ["evaluate", "--model", str(model_file), "--head", "mol", "--files", str(data)]
    assert main([*argv, "--output", str(pred)]) == 0
    frames = ase.io.read(pred, ":")
    assert all("MMH_mol_energy" in a.info and "MMH_mol_stress" not in a.info for a in frames)
    assert all("MMH_bulk_energy" not in a.info for a in frames)
    assert all(a.info["source_file"].endswith("mol.xyz") for a in frames)
    assert [a.info["source_frame"] for a in frames] == [0, 1, 2]


def test_predictions_of_a_bundled_split(tmp_path, model_file, capsys):
    pred = tmp_path / "p.extxyz"
    argv = ["evaluate", "--model", str(model_file), "--head", "bulk", "--dataset", "bulk"]
    assert main([*argv, "--split", "valid", "--output", str(pred)]) == 0
    assert len(ase.io.read(pred, ":")) > 0
