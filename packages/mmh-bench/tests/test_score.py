"""The paper's score: Table XX bounds, normalisation, domain and global scores."""

import math

import pytest
from mmh_bench import (
    DOMAIN_WEIGHTS,
    SCORE_TABLE,
    BenchmarkResult,
    normalise,
    score,
)

# Table XX as printed in the paper: (domain, benchmark, metric, direction, best, worst)
PRINTED = [
    ("materials", "elastic_moduli", "bulk_mae_gpa", "L", 0.0, 50.0),
    ("materials", "elastic_moduli", "shear_mae_gpa", "L", 0.0, 50.0),
    ("materials", "thermal_conductivity", "rmse_w_mk", "L", 0.0, 2.0),
    ("materials", "phonons", "omega_max_mae_k", "L", 0.0, 50.0),
    ("materials", "phonons", "omega_avg_mae_k", "L", 0.0, 50.0),
    ("materials", "phonons", "omega_min_mae_k", "L", 0.0, 50.0),
    ("materials", "phonons", "bz_mae_k", "L", 0.0, 50.0),
    ("materials", "phonons", "entropy_mae_j_molk", "L", 0.0, 50.0),
    ("materials", "phonons", "free_energy_mae_kj_mol", "L", 0.0, 50.0),
    ("materials", "phonons", "heat_capacity_mae_j_molk", "L", 0.0, 50.0),
    ("materials", "phonons", "stability_count", "L", 0.0, 50.0),
    ("materials", "phonons", "stability_n_count", "L", 0.0, 50.0),
    ("molecular_crystals", "x23", "mae_kcal_mol", "L", 0.5, 50.0),
    ("molecular_crystals", "ice_polymorphs", "mae_kcal_mol", "L", 0.5, 50.0),
    ("surfaces", "s24", "mae_kcal_mol", "L", 0.5, 50.0),
    ("surfaces", "oc20", "mae_ev", "L", 0.021, 0.50),
    ("molecules", "wiggle150", "mae_kcal_mol", "L", 0.5, 50.0),
    ("molecules", "gmtkn55", "basic_small_mae_kcal_mol", "L", 0.5, 50.0),
    ("molecules", "gmtkn55", "large_systems_mae_kcal_mol", "L", 0.5, 50.0),
    ("molecules", "gmtkn55", "barrier_heights_mae_kcal_mol", "L", 0.5, 50.0),
    ("molecules", "gmtkn55", "intra_nc_mae_kcal_mol", "L", 0.5, 50.0),
    ("molecules", "gmtkn55", "inter_nc_mae_kcal_mol", "L", 0.5, 50.0),
    ("molecules", "gmtkn55", "overall_mae_kcal_mol", "L", 0.5, 50.0),
    ("molecules", "plf547", "mae_kcal_mol", "L", 0.5, 50.0),
    ("molecules", "s30l", "mae_kcal_mol", "L", 0.5, 50.0),
    ("physicality", "slab_extensivity", "delta_mev", "L", 0.0, 50.0),
    ("physicality", "h_additivity", "max_abs_df_mev_per_a", "L", 0.0, 50.0),
    ("physicality", "diatomics", "force_flips", "L", 1.0, 10.0),
    ("physicality", "diatomics", "energy_minima", "L", 1.0, 10.0),
    ("physicality", "diatomics", "inflections", "L", 2.0, 10.0),
    ("physicality", "diatomics", "spearman_repulsive", "H", -1.0, -0.5),
    ("physicality", "diatomics", "spearman_attractive", "H", 1.0, 0.0),
]


def R(name, domain, **metrics):
    return BenchmarkResult(name, domain, metrics, units=dict.fromkeys(metrics, "u"))


def test_table_is_table_xx():
    got = [(r.domain, r.benchmark, r.metric, r.direction, r.best, r.worst) for r in SCORE_TABLE]
    assert got == PRINTED
    assert DOMAIN_WEIGHTS == {
        "materials": 0.25,
        "molecules": 0.25,
        "surfaces": 0.20,
        "molecular_crystals": 0.20,
        "physicality": 0.10,
    }
    assert sum(DOMAIN_WEIGHTS.values()) == pytest.approx(1.0)


def test_normalise_clips_and_follows_the_bounds():
    assert normalise(5.45, 0.5, 50.0) == pytest.approx(0.9)
    assert normalise(0.1, 0.5, 50.0) == 1.0  # better than the best bound
    assert normalise(80.0, 0.5, 50.0) == 0.0  # worse than the worst bound
    assert normalise(-0.9, -1.0, -0.5) == pytest.approx(0.8)  # ρ_rep: lower is better
    assert normalise(0.2, -1.0, -0.5) == 0.0
    assert normalise(0.6, 1.0, 0.0) == pytest.approx(0.6)
    assert math.isnan(normalise(float("nan"), 0.0, 1.0))
    with pytest.raises(ValueError, match="differ"):
        normalise(1.0, 2.0, 2.0)


def _partial_results():
    return [
        R("x23", "molecular_crystals", mae_kcal_mol=5.45),  # 0.9
        R("ice_polymorphs", "molecular_crystals", mae_kcal_mol=75.0),  # 0
        R("s24", "surfaces", mae_kcal_mol=0.5, mae_ev=99.0),  # 1 (mae_ev is not its row)
        R("oc20", "surfaces", mae_ev=0.2605),  # 0.5
        R("wiggle150", "molecules", mae_kcal_mol=10.4),  # 0.8
        R(
            "gmtkn55",
            "molecules",
            basic_small_mae_kcal_mol=0.25,  # 1
            large_systems_mae_kcal_mol=50.0,  # 0
            barrier_heights_mae_kcal_mol=25.25,  # 0.5
            intra_nc_mae_kcal_mol=15.35,  # 0.7
            inter_nc_mae_kcal_mol=40.1,  # 0.2
            overall_mae_kcal_mol=30.2,  # 0.4
        ),
        R("s30l", "molecules", mae_kcal_mol=45.05),  # 0.1; plf547 absent
        R("slab_extensivity", "physicality", delta_mev=10.0),  # 0.8
        R("h_additivity", "physicality", max_abs_df_mev_per_a=60.0, mean_abs_df_mev_per_a=1.0),
        R(
            "diatomics",
            "physicality",
            force_flips=1.9,  # 0.9
            energy_minima=1.0,  # 1
            inflections=4.0,  # 0.75
            spearman_repulsive=-0.9,  # 0.8
            spearman_attractive=0.6,  # 0.6
        ),
        R("s22", "molecules", mae_kcal_mol=1.0),  # reported, not scored
        R("speed", "speed", steps_per_s=10.0),
    ]


def test_hand_computed_scores_with_a_missing_domain():
    s = score(_partial_results())
    assert s.domains["molecular_crystals"] == pytest.approx(0.45)
    assert s.domains["surfaces"] == pytest.approx(0.75)
    assert s.domains["molecules"] == pytest.approx(3.7 / 8)
    assert s.domains["physicality"] == pytest.approx(4.85 / 7)
    assert s.domains["materials"] is None
    assert s.missing_domains == ["materials"]
    assert s.domain_coverage == {
        "materials": [0, 12],
        "molecules": [8, 9],
        "surfaces": [2, 2],
        "molecular_crystals": [2, 2],
        "physicality": [7, 7],
    }
    lower = 0.2 * 0.45 + 0.2 * 0.75 + 0.25 * 3.7 / 8 + 0.1 * 4.85 / 7
    assert s.global_lower_bound == pytest.approx(lower)
    assert s.weight_coverage == pytest.approx(0.75)
    assert s.global_score == pytest.approx(lower / 0.75)
    assert not s.complete
    assert s.unscored == ["s22", "speed"]
    plf = [r for r in s.rows if r["benchmark"] == "plf547"]
    assert plf[0]["value"] is None and plf[0]["score"] is None


def test_hand_computed_global_score_with_every_domain():
    results = [
        *_partial_results(),
        R("elastic_moduli", "materials", bulk_mae_gpa=25.0, shear_mae_gpa=5.0),  # 0.5, 0.9
        R("thermal_conductivity", "materials", rmse_w_mk=0.5),  # 0.75
    ]
    s = score(results)
    assert s.domains["materials"] == pytest.approx(2.15 / 3)
    expected = 0.25 * 2.15 / 3 + 0.2 * 0.45 + 0.2 * 0.75 + 0.25 * 3.7 / 8 + 0.1 * 4.85 / 7
    assert s.weight_coverage == pytest.approx(1.0)
    assert s.global_score == pytest.approx(expected)
    assert s.global_lower_bound == pytest.approx(expected)
    assert s.missing_domains == []


def test_perfect_results_score_one():
    results = []
    for benchmark in dict.fromkeys(r.benchmark for r in SCORE_TABLE):
        rows = [r for r in SCORE_TABLE if r.benchmark == benchmark]
        results.append(R(benchmark, rows[0].domain, **{r.metric: r.best for r in rows}))
    s = score(results)
    assert s.complete and s.global_score == pytest.approx(1.0)
    assert all(v == pytest.approx(1.0) for v in s.domains.values())


def test_nan_metrics_count_as_missing_and_bad_input_is_rejected():
    s = score([R("diatomics", "physicality", force_flips=1.0, spearman_attractive=float("nan"))])
    assert s.domain_coverage["physicality"] == [1, 7]
    assert s.domains["physicality"] == 1.0
    assert score([]).global_score is None
    with pytest.raises(ValueError, match="two results named 'x23'"):
        score([R("x23", "molecular_crystals", mae_kcal_mol=1.0)] * 2)
    with pytest.raises(ValueError, match="Table XX scores it under 'molecular_crystals'"):
        score([R("x23", "molecules", mae_kcal_mol=1.0)])


def test_scores_round_trip_through_json():
    import json

    s = score(_partial_results())
    again = json.loads(json.dumps(s.to_dict(), allow_nan=False))
    assert again["global_score"] == pytest.approx(s.global_score)
    assert again["domains"]["materials"] is None
