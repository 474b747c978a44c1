"""The relative-energy metrics of the grid: a model whose energy is a sum of per-element
constants has no interaction and no adsorption energy, so its errors equal the baselines'
and its skill is 0."""

from __future__ import annotations

import numpy as np
import pytest
import relative
from mmh_heads.testing import tiny_model


def additive(frames: list) -> np.ndarray:
    """E = sum of a constant per element."""
    return np.array([np.sum(-1.5 * a.numbers + 0.1 * a.numbers**2) for a in frames])


def test_an_additive_model_has_the_skill_of_no_interaction():
    out = relative.interaction_metrics(additive, "test")
    assert out["dimers"] > 20
    assert out["mae"] == pytest.approx(out["baseline_mae"], rel=1e-9)
    assert out["skill"] == pytest.approx(0.0, abs=1e-9)


def test_an_additive_model_has_the_skill_of_each_adsorbates_mean():
    out = relative.adsorption_metrics(additive)
    assert out["all"]["systems"] == out["id"]["systems"] + out["ood"]["systems"]
    for part in ("id", "ood", "all"):
        assert out[part]["centred_skill"] == pytest.approx(0.0, abs=1e-9)
    # its adsorption energies are all 0: the full MAE is the mean |E_ads| of the reference
    reference = relative.bundled.metadata("surf")["relative"]["adsorption"]["adsorption_energies"]
    assert out["all"]["mae"] == pytest.approx(1e3 * np.mean(np.abs(list(reference.values()))))


def test_batched_energies_of_a_model_are_those_of_its_calculator(tmp_path):
    from mmh_ase import MMHCalculator
    from mmh_heads import save_model

    model = tiny_model(heads=("mol", "surf"), elements=(1, 6, 7, 8, 9, 13, 16, 17, 29))
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    frames = (
        relative.bundled.load_atoms("mol", "test")[:5]
        + [a for a in relative.bundled.load_adsorption() if a.info["family"].startswith("Cu(111)")][
            :2
        ]
    )
    calc = MMHCalculator(str(path), head="surf", dtype="float64")
    expected = []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = calc
        expected.append(atoms.get_potential_energy())
    got = relative.Energies(path, "surf", batch_size=3)(frames)
    assert got == pytest.approx(np.array(expected), rel=1e-10, abs=1e-9)


def test_a_work_directory_with_a_longer_parent_is_not_the_cells_model(tmp_path):
    import json

    def run(name, steps, best):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(
            json.dumps({"steps": steps, "best_step": best})
        )

    run("pretrain-a", 8000, 7700)
    run("replay-a", 600, 600)
    cell = {
        "cell": "replay-a",
        "pretrained": "pretrain-a",
        "training": {"steps": 600, "best_step": 600},
        "budget": {"pretrain_steps": 8000},
    }
    assert relative.trained_here(cell, tmp_path)
    assert not relative.trained_here(cell | {"budget": {"pretrain_steps": 2500}}, tmp_path)
    assert not relative.trained_here(
        cell | {"training": {"steps": 600, "best_step": 550}}, tmp_path
    )
    assert not relative.trained_here(cell | {"cell": "missing"}, tmp_path)
