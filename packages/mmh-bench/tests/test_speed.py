"""The speed benchmark: structure builder, what is timed, and the mmh calculator's extras."""

import time

import numpy as np
import pytest
import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from mmh_ase import MMHCalculator
from mmh_bench import BenchmarkResult
from mmh_bench.speed import STEP_DISPLACEMENT, carbon_fcc, speed
from mmh_heads.testing import tiny_model


def test_carbon_fcc_is_the_papers_crystal():
    atoms = carbon_fcc()
    assert len(atoms) == 1000 and atoms.get_chemical_formula() == "C1000"
    assert atoms.pbc.all()
    # nearest neighbours at a / sqrt(2), twelve of them
    d = atoms.get_distances(0, range(1, len(atoms)), mic=True)
    assert d.min() == pytest.approx(3.8 / np.sqrt(2))
    assert np.sum(np.isclose(d, d.min())) == 12
    assert len(carbon_fcc(32)) == 32 and len(carbon_fcc(27, a=3.5)) == 27
    assert carbon_fcc(32).cell.lengths() == pytest.approx([7.6] * 3)
    with pytest.raises(ValueError, match="not 30"):
        carbon_fcc(30)


class Sleeper(Calculator):
    """Takes a known time per evaluation and counts the evaluations."""

    implemented_properties = ("energy", "forces")

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.positions = []

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        time.sleep(self.seconds)
        self.positions.append(self.atoms.positions.copy())
        n = len(self.atoms)
        self.results = {"energy": 0.0, "forces": np.zeros((n, 3))}


def test_every_step_is_a_new_evaluation_and_is_timed():
    calc = Sleeper(0.02)
    atoms = carbon_fcc(8)
    result = speed(calc, atoms=atoms, steps=4, warmup=2)
    assert len(calc.positions) == 6  # no step answered from the cache
    moved = np.linalg.norm(calc.positions[1] - calc.positions[0], axis=1)
    np.testing.assert_allclose(moved, 2 * STEP_DISPLACEMENT)
    np.testing.assert_allclose(atoms.positions, carbon_fcc(8).positions)  # not modified
    assert 1.0 < result.metrics["steps_per_s"] <= 1 / 0.02
    assert result.metrics["seconds_per_step"] >= 0.02
    assert result.metrics["cpu_seconds_per_step"] < result.metrics["seconds_per_step"]
    assert "steps_per_s_no_graph" not in result.metrics
    assert result.domain == "speed" and result.calculator == "sleeper"
    assert len(result.data["wall_seconds"]) == 4 and len(result.data["warmup_seconds"]) == 2


def test_emt_speed_round_trips_as_a_result():
    result = speed(EMT(), atoms=carbon_fcc(32), steps=2, warmup=1, stress=True)
    assert result.metrics["steps_per_s"] > 0
    assert result.data["num_atoms"] == 32 and result.data["stress"] is True
    again = BenchmarkResult.from_dict(result.to_dict())
    assert again.metrics == pytest.approx(result.metrics)
    with pytest.raises(ValueError, match="steps >= 1"):
        speed(EMT(), atoms=carbon_fcc(4), steps=0)


def test_mmh_calculator_is_timed_with_and_without_graph_construction():
    model = tiny_model(("pbe",), dtype=torch.float32, elements=(6,), channels=4, max_ell=1)
    calc = MMHCalculator(model)
    atoms = carbon_fcc(8)
    result = speed(calc, atoms=atoms, steps=2, warmup=1, stress=True)
    metrics = result.metrics
    assert metrics["steps_per_s_no_graph"] > 0 and metrics["graph_seconds"] > 0
    # the full step builds the graph and evaluates the model: it is the slower of the two
    assert metrics["seconds_per_step"] > metrics["graph_seconds"]
    assert result.data["num_edges"] == calc.build_batch(atoms).num_edges == 8 * 12
    assert result.data["dtype"] == "float32" and result.data["device"] == "cpu"
    assert result.units["steps_per_s_no_graph"] == "steps/s"
    assert result.calculator == "mmh model (head pbe, float32, cpu)"
