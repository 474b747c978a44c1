"""Per-head statistics and E0 estimation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ase.neighborlist import neighbor_list as ase_neighbor_list
from mmh_data import (
    Configuration,
    DataError,
    DataWarning,
    StatisticsAccumulator,
    UnknownHeadError,
    average_e0s,
    compute_statistics,
    fit_e0s,
    format_statistics,
    isolated_atom_energies,
)

TRUE_E0 = {1: -13.587, 6: -1029.41, 8: -2041.72, 26: -3412.9}


def _synthetic(rng, count, elements, e0=TRUE_E0, interaction=0.0, head="Default"):
    configs = []
    for _ in range(count):
        n = int(rng.integers(2, 9))
        z = rng.choice(elements, size=n)
        pos = np.arange(n)[:, None] * np.array([1.2, 0.0, 0.0])  # a chain, 1.2 Å apart
        energy = sum(e0[int(k)] for k in z) + interaction * n * (1 + 0.1 * rng.normal())
        configs.append(
            Configuration(
                atomic_numbers=z,
                positions=pos,
                energy=energy,
                forces=rng.normal(size=(n, 3)),
                head=head,
            )
        )
    return configs


def test_e0_least_squares_recovers_known_energies():
    rng = np.random.default_rng(0)
    configs = _synthetic(rng, 200, [1, 6, 8, 26])
    e0s = average_e0s(configs)
    assert set(e0s) == {1, 6, 8, 26}
    for z, value in e0s.items():
        assert abs(value - TRUE_E0[z]) < 1e-8
    stats = compute_statistics(configs, cutoff=3.0, e0s="average")["Default"]
    for z, value in stats.e0s.items():
        assert abs(value - TRUE_E0[z]) < 1e-8
    assert abs(stats.mean_interaction_energy) < 1e-9


def test_grouped_least_squares_equals_full():
    rng = np.random.default_rng(1)
    A = rng.integers(0, 4, size=(50, 3)).astype(float)
    A[:10] = A[0]  # repeated composition
    b = A @ np.array([-1.0, -2.0, -3.0]) + rng.normal(size=50) * 0.1
    full = fit_e0s(A, b, [1, 2, 3])
    stats = StatisticsAccumulator("x", cutoff=2.0)
    for row, energy in zip(A, b, strict=True):
        z = np.repeat([1, 2, 3], row.astype(int))
        if len(z):
            pos = np.arange(len(z))[:, None] * np.array([[1.5, 0, 0]])
            stats.add(Configuration(atomic_numbers=z, positions=pos, energy=energy))
    keep = A.sum(axis=1) > 0
    expected = fit_e0s(A[keep], b[keep], [1, 2, 3])
    got = stats.result("average").e0s
    for z in (1, 2, 3):
        assert got[z] == pytest.approx(expected[z], abs=1e-10)
    assert set(full) == {1, 2, 3}


def test_rank_deficiency_warns_with_element_names():
    rng = np.random.default_rng(2)
    configs = []
    for k in range(5):  # only H2O and CO: two stoichiometries for three elements
        pos = np.array([[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]) * (1 + 0.01 * k)
        configs.append(
            Configuration(
                atomic_numbers=[8, 1, 1], positions=pos, energy=-2068.9 + rng.normal() * 0.01
            )
        )
        configs.append(
            Configuration(
                atomic_numbers=[6, 8], positions=pos[:2] * 1.2, energy=-3071.0 + rng.normal() * 0.01
            )
        )
    with pytest.warns(DataWarning, match=r"C \(Z=6\).*O \(Z=8\)|O \(Z=8\).*C \(Z=6\)") as rec:
        e0s = average_e0s(configs)
    message = str(rec[0].message)
    assert "H (Z=1)" in message  # the null space (1, 2, -2) touches every element
    assert set(e0s) == {1, 6, 8}


def test_isolated_atoms_take_precedence_and_fix_the_rest():
    rng = np.random.default_rng(3)
    configs = _synthetic(rng, 60, [1, 6, 8], interaction=-0.5)
    iso_h = Configuration(
        atomic_numbers=[1], positions=[[0, 0, 0]], energy=-13.6, config_type="IsolatedAtom"
    )
    configs.append(iso_h)
    assert isolated_atom_energies(configs) == {1: -13.6}
    stats = compute_statistics(configs, cutoff=3.0)["Default"]
    assert stats.e0s[1] == -13.6 and stats.e0s_method == {1: "isolated", 6: "average", 8: "average"}
    assert stats.num_isolated_atoms == 1 and stats.isolated_e0s == {1: -13.6}
    with pytest.raises(DataError, match="C"):
        compute_statistics(configs, cutoff=3.0, e0s="isolated")


def test_interaction_energy_rms_force_and_neighbours():
    rng = np.random.default_rng(4)
    configs = _synthetic(rng, 40, [1, 6], interaction=-0.7)
    e0 = {1: TRUE_E0[1], 6: TRUE_E0[6]}
    stats = compute_statistics(configs, cutoff=2.5, e0s=e0)["Default"]
    per_atom = [
        (c.energy - sum(e0[int(z)] for z in c.atomic_numbers)) / c.num_atoms for c in configs
    ]
    assert stats.mean_interaction_energy == pytest.approx(np.mean(per_atom), abs=1e-10)
    # from moments of E/N and n/N: a few digits go to the spread of E/N (C vs H)
    assert stats.std_interaction_energy == pytest.approx(np.std(per_atom), rel=1e-8)
    forces = np.concatenate([c.forces for c in configs])
    assert stats.rms_force == pytest.approx(np.sqrt(np.mean(forces**2)))
    edges = sum(len(ase_neighbor_list("i", c.to_atoms(), 2.5)) for c in configs)
    assert stats.avg_num_neighbours == pytest.approx(edges / sum(c.num_atoms for c in configs))
    assert stats.e0s_method == {1: "given", 6: "given"}
    text = format_statistics({"Default": stats})
    assert "avg neighbours" in text and "RMS force" in text
    assert stats.to_dict()["e0s"]["1"] == e0[1]


def test_statistics_per_head():
    rng = np.random.default_rng(5)
    configs = _synthetic(rng, 30, [1, 8], head="pbe") + _synthetic(
        rng, 30, [1, 6], head="r2scan", e0={1: -10.0, 6: -900.0}
    )
    stats = compute_statistics(
        configs, cutoff=3.0, heads=["pbe", "r2scan"], e0s={"pbe": "average", "r2scan": "average"}
    )
    assert list(stats) == ["pbe", "r2scan"]
    assert stats["pbe"].elements == [1, 8] and stats["r2scan"].elements == [1, 6]
    assert stats["r2scan"].e0s[6] == pytest.approx(-900.0, abs=1e-8)
    with pytest.raises(UnknownHeadError):
        compute_statistics(configs, cutoff=3.0, heads=["pbe"])


def test_labels_missing_do_not_enter_statistics():
    pos = [[0, 0, 0], [1.0, 0, 0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = compute_statistics(
            [
                Configuration(atomic_numbers=[1, 1], positions=pos, energy=-2.0),
                Configuration(atomic_numbers=[1, 1], positions=pos, forces=np.ones((2, 3))),
                Configuration(atomic_numbers=[1, 1, 1], positions=[*pos, [2, 0, 0]], energy=-3.0),
            ],
            cutoff=1.5,
        )["Default"]
    assert stats.num_energy == 2 and stats.num_forces == 1
    assert stats.e0s[1] == pytest.approx(-1.0) and stats.rms_force == pytest.approx(1.0)
