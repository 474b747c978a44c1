"""mmh-bench's in-domain errors and mmh-train's evaluation errors are one definition: the same
model on the same frames gives the same MAE and RMSE, stress included."""

from __future__ import annotations

import pytest
import torch
from mmh_ase import MMHCalculator
from mmh_bench import in_domain
from mmh_data import GraphBuilder, configurations_from_atoms
from mmh_data import datasets as bundled
from mmh_heads.testing import tiny_model

mmh_train = pytest.importorskip("mmh_train", reason="the comparison needs mmh-train")


def test_training_and_benchmark_metrics_agree_stress_included():
    frames = bundled.load_atoms("bulk", "test")
    elements = sorted({int(z) for atoms in frames for z in atoms.numbers})
    model = tiny_model(heads=("bulk", "other"), elements=elements, r_max=4.0)

    configs = configurations_from_atoms(frames, head="bulk", heads=model.heads)
    assert sum(c.stress_weight > 0 for c in configs) > 10  # stress is compared
    graphs = {
        "bulk": [GraphBuilder(4.0, heads=model.heads, dtype=torch.float64)(c) for c in configs]
    }
    trained = mmh_train.evaluate_heads(
        model, graphs, loss_weights=mmh_train.LossWeights(), batch_size=7
    )["bulk"]

    calc = MMHCalculator(model, head="bulk", default_dtype="float64")
    bench = in_domain(calc, datasets=["bulk"]).metrics

    pairs = {
        "energy_mae": "bulk_energy_mae_mev_per_atom",
        "energy_rmse": "bulk_energy_rmse_mev_per_atom",
        "forces_mae": "bulk_forces_mae_mev_per_a",
        "forces_rmse": "bulk_forces_rmse_mev_per_a",
        "stress_mae": "bulk_stress_mae_mev_per_a3",
        "stress_rmse": "bulk_stress_rmse_mev_per_a3",
    }
    for ours, theirs in pairs.items():
        assert bench[theirs] == pytest.approx(trained[ours], rel=1e-9, abs=1e-12), ours
