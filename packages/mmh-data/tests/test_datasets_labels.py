"""The stored labels are real tblite results: recomputation, finite differences, two levels.

All tblite work runs once, in a fresh interpreter with one OpenMP thread (as in generation;
OpenMP in a process that already loaded torch may use more threads, which is slow and noisy):
20 random frames per dataset are recomputed (about 15 s each for ``bulk`` and ``surf``, whose
cells have 8–24 atoms, under 1 s for the molecular sets), 5 frames are compared with central
finite differences of the energy on two atoms each, and 100 ``mol`` frames are recomputed at
GFN1, and 20 frames against their stored GFN1 labels. About 50 s on one free core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tblite")

from mmh_data import datasets

NAMES = ["bulk", "surf", "mol", "mol-base"]
_SCRIPT = (
    "import json\nfrom mmh_data.datasets._verify import run_checks\nprint(json.dumps(run_checks()))"
)


@pytest.fixture(scope="module")
def checks() -> dict:
    if not datasets.names():
        pytest.skip("no dataset generated in this checkout")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", NAMES)
def test_recomputed_labels_match(checks, name):
    if name not in checks["recompute"]:
        pytest.skip(f"dataset {name} not generated in this checkout")
    worst = checks["recompute"][name]
    assert worst["frames"] == 20
    assert worst["energy"] < 1e-6
    assert worst["forces"] < 1e-5
    assert worst["stress"] < 1e-7


def test_stored_gfn1_labels_of_mol_match_a_recomputation(checks):
    if "extra_levels" not in checks:
        pytest.skip("dataset mol not generated in this checkout")
    worst = checks["extra_levels"]["mol/gfn1"]
    assert worst["frames"] == 20
    assert worst["energy"] < 1e-6
    assert worst["forces"] < 1e-5
    meta = datasets.metadata("mol")["extra_levels"]["gfn1"]
    total = sum(s["frames"] for s in datasets.metadata("mol")["splits"].values())
    assert meta["frames"] + meta["scf_failures"] == total
    frames = datasets.load_atoms("mol", "test")
    with_gfn1 = [a for a in frames if "GFN1_energy" in a.info]
    assert len(with_gfn1) >= len(frames) - meta["scf_failures"]
    assert all(a.arrays["GFN1_forces"].shape == (len(a), 3) for a in with_gfn1)


def test_stored_interaction_energies_match_a_recomputation(checks):
    if "interaction" not in checks:
        pytest.skip("dataset mol not generated in this checkout")
    assert checks["interaction"]["frames"] == 10
    assert checks["interaction"]["energy"] < 1e-6
    stored = datasets.metadata("mol")["relative"]["interaction"]["frames"]
    assert sum(stored.values()) == checks["interaction"]["dimers"] > 500


def test_adsorption_set_is_relaxed_and_its_labels_match_a_recomputation(checks):
    if "adsorption" not in checks:
        pytest.skip("dataset surf not generated in this checkout")
    worst = checks["adsorption"]
    assert worst["frames"] == 4 + 3
    assert worst["energy"] < 1e-6
    assert worst["forces"] < 1e-5
    summary = datasets.metadata("surf")["relative"]["adsorption"]
    frames = datasets.load_adsorption()
    energies = {a.info["family"]: a.info["REF_energy"] for a in frames}
    # the stored reference adsorption energies are those of the stored structures
    assert datasets.adsorption_energies(energies) == pytest.approx(
        summary["adsorption_energies"], abs=1e-9
    )
    # every relaxation that ran reached the force threshold, or ran its full budget
    for family, r in summary["relaxations"].items():
        if r["evaluations"]:
            assert r["fmax"] <= summary["fmax"] or r["evaluations"] > 200, family


def test_forces_match_finite_differences(checks):
    rows = checks["finite_differences"]
    assert len({(r["dataset"], r["stored"]) for r in rows}) >= 5
    for r in rows:
        assert abs(r["fd"] - r["stored"]) < max(2e-3, 0.01 * abs(r["stored"])), r


def test_levels_differ_on_mol_geometries(checks):
    """GFN2 − GFN1 after a per-element E0 fit keeps a spread ≥ 0.05 eV/atom."""
    if "levels" not in checks:
        pytest.skip("dataset mol not generated in this checkout")
    assert checks["levels"]["frames"] >= 95
    assert checks["levels"]["std_ev_per_atom"] >= 0.05
    stored = datasets.metadata("mol")["analysis"]["gfn2_minus_gfn1"]
    assert stored["std_ev_per_atom"] >= 0.05
    total = sum(s["frames"] for s in datasets.metadata("mol")["splits"].values())
    assert stored["frames"] + stored["gfn1_scf_failures"] == total


def test_aligned_difference_removes_per_element_offsets():
    """The E0 alignment removes a difference that is only per-element constants."""
    from mmh_data.datasets._levels import aligned_difference

    rng = np.random.default_rng(0)
    nums = [rng.choice([1, 6, 8], size=rng.integers(2, 12)) for _ in range(50)]
    offsets = {1: -0.3, 6: 1.2, 8: -2.0}
    delta = np.array([sum(offsets[int(z)] for z in zs) for zs in nums])
    assert aligned_difference(delta, nums)["std_ev_per_atom"] < 1e-10
    noisy = delta + rng.normal(0, 0.5, len(nums))
    assert aligned_difference(noisy, nums)["std_ev_per_atom"] > 0.01
