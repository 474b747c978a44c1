"""Slab extensivity and H additivity: zero for local potentials, detect non-local ones."""

import numpy as np
import pytest
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT
from bench_kit import CoulombLike, PairMorse, SizeDependent
from mmh_bench import fcc111_slab, h_additivity, slab_extensivity

SMALL = {"size": (2, 2), "layers": 3}


def test_emt_reproduces_the_papers_zeros():
    """Paper protocol (Al|Ni fcc(111), 8 layers, 4×4, 100 Å): a local model gives Δ = 0."""
    result = slab_extensivity(EMT())
    assert result.name == "slab_extensivity" and result.domain == "physicality"
    assert result.metrics["delta_mev"] == pytest.approx(0.0, abs=1e-6)
    stacks = result.data["stacks"]
    assert [s["metals"] for s in stacks] == [["Al", "Ni"], ["Al", "Al"], ["Ni", "Ni"]]
    assert all(s["n_atoms"] == [128, 128] for s in stacks)
    assert set(result.data["per_metal_delta_mev"]) == {"Al", "Ni"}
    # the isolated energies are real, different numbers (the test is not comparing zeros)
    assert abs(stacks[0]["e1_ev"] - stacks[0]["e2_ev"]) > 1.0

    add = h_additivity(EMT())
    for key in ("max_abs_df_mev_per_a", "mean_abs_df_mev_per_a", "std_abs_df_mev_per_a"):
        assert add.metrics[key] == pytest.approx(0.0, abs=1e-9)
    assert [p["distance_a"] for p in add.data["per_distance"]] == [50, 60, 70, 80, 90, 100]
    assert all(abs(p["delta_energy_mev"]) < 1e-6 for p in add.data["per_distance"])


def test_slab_geometry_follows_the_protocol():
    slab = fcc111_slab("Al", (4, 4), 8)
    assert len(slab) == 128 and slab.positions[:, 2].min() == 0.0
    # 8 (111) layers at a = 4.05 Å: spacing a/sqrt(3)
    assert slab.positions[:, 2].max() == pytest.approx(7 * 4.05 / np.sqrt(3))


def test_h_is_far_from_every_periodic_image():
    """The H atom is at least the asked distance from every slab atom and its images."""

    class Spy(EMT):
        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            seen.append(self.atoms.copy())

    seen = []
    h_additivity(Spy(), distances=(50.0, 75.0), **SMALL)
    combined = [a for a in seen if "H" in a.get_chemical_symbols() and len(a) > 1]
    assert len(combined) == 2
    for atoms, d in zip(combined, (50.0, 75.0), strict=True):
        dist = atoms.get_distances(len(atoms) - 1, range(len(atoms) - 1), mic=True)
        assert dist.min() == pytest.approx(d, abs=1e-9)


def test_pair_potential_is_local_too():
    result = slab_extensivity(PairMorse(a=3.0), **SMALL, gap=100.0)
    # Morse tails at 100 Å are ~exp(-300): zero in float64
    assert result.metrics["delta_mev"] == pytest.approx(0.0, abs=1e-6)


def test_nonlocal_toy_is_detected():
    """A Coulomb-like sum over all atoms couples fragments 50–100 Å apart."""
    k = 1.0
    result = slab_extensivity(CoulombLike(k=k), **SMALL)
    stack = result.data["stacks"][0]
    # Δ is exactly the inter-slab part of the pair sum: 12 × 12 atoms at ~100 Å
    assert 0.9 * 144 / 110 * 1000 < stack["delta_mev"] < 144 / 100 * 1000
    assert result.metrics["delta_mev"] == max(abs(s["delta_mev"]) for s in result.data["stacks"])

    add = h_additivity(CoulombLike(k=k), distances=(50.0,), **SMALL)
    # 12 atoms at ≥ 50 Å push the H atom with ≤ 12 k / 50² eV/Å
    h = add.data["per_distance"][0]["h_abs_df_mev_per_a"]
    assert 0.5 * 12 / 55**2 * 1000 < h <= 12 / 50**2 * 1000
    assert add.metrics["max_abs_df_mev_per_a"] == pytest.approx(h)
    assert add.metrics["mean_abs_df_mev_per_a"] > 0.0


def test_size_dependent_energy_is_detected_by_extensivity_only():
    c = 1e-3
    result = slab_extensivity(SizeDependent(c=c), **SMALL)
    n = 12
    assert result.metrics["delta_mev"] == pytest.approx(2 * c * n * n * 1000, rel=1e-9)
    add = h_additivity(SizeDependent(c=c), distances=(50.0,), **SMALL)
    assert add.metrics["max_abs_df_mev_per_a"] == pytest.approx(0.0, abs=1e-9)
    assert add.data["per_distance"][0]["delta_energy_mev"] == pytest.approx(2 * c * n * 1000)


def test_missing_elements_are_named():
    calc = EMT()
    calc.elements = ["H", "Al"]
    with pytest.raises(ValueError, match=r"slab_extensivity.*\['Ni'\]"):
        slab_extensivity(calc, **SMALL)
    with pytest.raises(ValueError, match="positive"):
        h_additivity(EMT(), distances=(-1.0,))
