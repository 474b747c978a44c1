"""Diatomic curve metrics on analytic curves, and the curves computed from calculators."""

import math

import numpy as np
import pytest
from ase.calculators.emt import EMT
from bench_kit import PairMorse, lennard_jones, morse
from mmh_bench import DIATOMIC_METRICS, curve_metrics, diatomic_curve, diatomics, element_pairs

GRID = np.linspace(0.18, 6.0, 100)


@pytest.mark.parametrize(
    "curve",
    [
        lambda r: morse(r, depth=2.0, a=1.5, r0=1.2),
        lambda r: morse(r, depth=4.5, a=2.0, r0=0.74),
        lambda r: lennard_jones(r, epsilon=1.0, sigma=1.5),
    ],
    ids=["morse", "morse-h2", "lennard-jones"],
)
def test_ideal_curves(curve):
    """Morse and LJ: one flip, one minimum, one inflection, monotonic either side."""
    e, f = curve(GRID)
    m = curve_metrics(GRID, e, f)
    assert m == pytest.approx(
        {
            "force_flips": 1.0,
            "energy_minima": 1.0,
            "inflections": 1.0,
            "spearman_repulsive": -1.0,
            "spearman_attractive": 1.0,
            "n_points": 100,
        }
    )


def test_order_of_points_does_not_matter():
    e, f = morse(GRID)
    perm = np.random.default_rng(0).permutation(GRID.size)
    assert curve_metrics(GRID[perm], e[perm], f[perm]) == curve_metrics(GRID, e, f)


def test_double_well_counts():
    """Two Morse wells: two minima, three force sign changes, spearman below ideal."""
    e1, f1 = morse(GRID, depth=2.0, a=3.0, r0=1.0)
    e2, f2 = morse(GRID, depth=1.0, a=3.0, r0=3.0)
    # the second well only acts beyond 2 Å: switch it on smoothly with a product rule
    s = 0.5 * (1 + np.tanh((GRID - 2.0) / 0.1))
    ds = 0.5 / 0.1 / np.cosh((GRID - 2.0) / 0.1) ** 2
    e = e1 + s * e2
    f = f1 + s * f2 - ds * e2
    m = curve_metrics(GRID, e, f)
    assert m["energy_minima"] == 2.0
    assert m["force_flips"] == 3.0
    assert m["inflections"] >= 3.0
    assert m["spearman_attractive"] < 1.0


def test_noisy_curve_is_detected():
    e, f = morse(GRID)
    rng = np.random.default_rng(1)
    wiggle = 0.3 * np.sin(GRID * 9.0) + 0.05 * rng.normal(size=GRID.size)
    dwiggle = -2.7 * np.cos(GRID * 9.0)
    noisy = curve_metrics(GRID, e + wiggle, f + dwiggle)
    clean = curve_metrics(GRID, e, f)
    assert noisy["force_flips"] >= 5 * clean["force_flips"]
    assert noisy["energy_minima"] >= 3
    assert noisy["inflections"] >= 5
    assert noisy["spearman_attractive"] < 0.9


def test_tolerances_ignore_a_flat_tail():
    """Tiny oscillations in the flat tail do not count as flips, minima or inflections."""
    e, f = morse(GRID, a=3.0)
    far = GRID > 5.0
    e_tail = e + 1e-4 * np.sin(20.0 * GRID) * far
    f_tail = f - 20e-4 * np.cos(20.0 * GRID) * far
    m = curve_metrics(GRID, e_tail, f_tail)
    assert (m["force_flips"], m["energy_minima"], m["inflections"]) == (1.0, 1.0, 1.0)
    strict = curve_metrics(GRID, e_tail, f_tail, force_tol=0.0, minimum_prominence=1e-5)
    assert strict["force_flips"] > 3
    assert strict["energy_minima"] > 3


def test_purely_repulsive_and_broken_curves():
    e = np.exp(-GRID)
    m = curve_metrics(GRID, e, np.exp(-GRID))
    assert m["force_flips"] == 0.0 and m["energy_minima"] == 0.0
    assert m["spearman_repulsive"] == pytest.approx(-1.0)  # monotonic down to the last point
    assert math.isnan(m["spearman_attractive"])  # no attractive regime
    e, f = morse(GRID)
    e[:3] = np.nan
    m = curve_metrics(GRID, e, f)
    assert m["n_points"] == 97 and m["energy_minima"] == 1.0
    m = curve_metrics(GRID[:4], e[:4], f[:4])
    assert all(math.isnan(m[k]) for k in DIATOMIC_METRICS)
    with pytest.raises(ValueError, match="equally long"):
        curve_metrics(GRID, e[:5], f)


def test_curve_from_a_calculator_matches_the_analytic_one():
    """Energies and the bond-projected force (positive = repulsive) of a Morse calculator."""
    r = np.linspace(0.5, 4.0, 15)
    e, f, failed = diatomic_curve(PairMorse(depth=2.0, a=1.5, r0=1.2), ("H", "H"), r)
    e_ref, f_ref = morse(r)
    assert not failed
    np.testing.assert_allclose(e, e_ref, atol=1e-12)
    np.testing.assert_allclose(f, f_ref, atol=1e-12)


def test_diatomics_benchmark_averages_pairs():
    result = diatomics(PairMorse(), ["H", "O", "C"], n_points=60)
    assert list(result.data["pairs"]) == ["H-H", "C-C", "O-O", "H-C", "H-O", "C-O"]
    assert result.metrics == pytest.approx(
        {
            "force_flips": 1.0,
            "energy_minima": 1.0,
            "inflections": 1.0,
            "spearman_repulsive": -1.0,
            "spearman_attractive": 1.0,
        }
    )
    assert set(result.units) == set(DIATOMIC_METRICS)
    assert len(result.data["distances_a"]) == 60
    assert result.data["distances_a"][0] == 0.18 and result.data["distances_a"][-1] == 6.0


def test_mean_over_pairs_skips_undefined_spearman():
    result = diatomics(EMT(), pairs=["H-H", "Al-Pt"], n_points=100)
    per = result.data["pairs"]
    assert math.isnan(per["Al-Pt"]["metrics"]["spearman_repulsive"])  # EMT minimum at 0.18 Å
    assert result.metrics["spearman_repulsive"] == per["H-H"]["metrics"]["spearman_repulsive"]
    flips = [p["metrics"]["force_flips"] for p in per.values()]
    assert result.metrics["force_flips"] == pytest.approx(np.mean(flips))


def test_elements_come_from_the_calculator_or_fail_clearly():
    assert len(element_pairs(["O", "H", 6])) == 6
    assert element_pairs(["H", "O"], heteronuclear=False) == [("H", "H"), ("O", "O")]
    result = diatomics(EMT(), heteronuclear=False, n_points=10)
    assert list(result.data["pairs"])[:3] == ["H-H", "C-C", "N-N"]
    assert len(result.data["pairs"]) == 11
    with pytest.raises(ValueError, match="pass elements"):
        diatomics(PairMorse())
    with pytest.raises(ValueError, match=r"no element\(s\) \['F'\]"):
        diatomics(EMT(), pairs=["H-F"])
    with pytest.raises(ValueError, match="unknown element"):
        diatomics(PairMorse(), ["Xx"])
