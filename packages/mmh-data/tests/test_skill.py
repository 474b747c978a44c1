"""Skill against trivial baselines and relative energies."""

from __future__ import annotations

import numpy as np
import pytest
from mmh_data import (
    Configuration,
    baseline_metrics,
    centred_energy_mae,
    linear_energies,
    skill_scores,
)


def _configs(rng, count, e0s, noise=0.0):
    out = []
    for _ in range(count):
        z = rng.choice(list(e0s), size=rng.integers(2, 7))
        energy = sum(e0s[int(a)] for a in z) + rng.normal() * noise
        out.append(
            Configuration(
                atomic_numbers=z,
                positions=rng.normal(size=(len(z), 3)) * 3,
                energy=energy,
                forces=rng.normal(size=(len(z), 3)),
            )
        )
    return out


def test_baselines_are_the_linear_fit_and_the_mean_absolute_force():
    rng = np.random.default_rng(0)
    e0s = {1: -13.0, 6: -1000.0, 8: -2000.0}
    train = _configs(rng, 40, e0s)
    test = _configs(rng, 10, e0s, noise=0.5)
    base = baseline_metrics(test, train)
    mean_abs_force = 1000 * np.mean(np.abs(np.concatenate([c.forces for c in test])))
    assert base["forces_mae"] == pytest.approx(mean_abs_force, rel=1e-12)
    per_atom = [
        abs(c.energy - sum(e0s[int(z)] for z in c.atomic_numbers)) / c.num_atoms for c in test
    ]
    assert base["energy_mae"] == pytest.approx(1000 * np.mean(per_atom), rel=1e-6)
    np.testing.assert_allclose(
        linear_energies(train, e0s), [c.energy for c in train], rtol=0, atol=1e-9
    )


def test_skill_is_one_for_perfect_zero_for_the_baseline_and_negative_for_worse():
    base = {"forces_mae": 200.0, "energy_mae": 50.0}
    assert skill_scores({"forces_mae": 0.0, "energy_mae": 50.0}, base) == {
        "forces_skill": 1.0,
        "energy_skill": 0.0,
    }
    assert skill_scores({"forces_mae": 300.0}, base)["forces_skill"] == pytest.approx(-0.5)
    assert skill_scores({"stress_mae": 1.0}, base) == {}


def test_centred_energies_remove_a_constant_per_group():
    rng = np.random.default_rng(1)
    n = rng.integers(3, 9, size=12)
    ref = rng.normal(size=12) * n
    groups = np.repeat(["a", "b", "c"], 4)
    offset = {"a": 0.3, "b": -2.0, "c": 5.0}
    pred = ref + np.array([offset[g] for g in groups]) * n  # per-atom offset per group
    assert centred_energy_mae(pred, ref, n, groups) == pytest.approx(0.0, abs=1e-9)
    assert centred_energy_mae(pred + 0.01 * n * (np.arange(12) % 2), ref, n, groups) > 1.0
