"""The claims table comes from the cell JSONs: synthetic cells give the numbers they hold,
and the committed page is what the committed cells give."""

from __future__ import annotations

import json
import statistics

import claims
import pytest


def _cell(tmp_path, name, seed, mae, skill, **fields):
    cell = {
        "cell": name,
        "seed": seed,
        "block": "nonlinear",
        "max_L": 1,
        "mode": "pretrain",
        "replay": None,
        "bridging": 0.0,
        "regularize": False,
        "budget": {"mol_train": 1000, "pretrain_steps": claims.PRETRAIN_STEPS},
        "errors": {"bulk on bulk test": {"forces_mae": mae, "forces_skill": skill}},
    }
    cell.update(fields)
    (tmp_path / f"{name}-s{seed}.json").write_text(json.dumps(cell))


def _row(rows, name):
    return next(r for r in rows if r["claim"] == name)


def test_rows_hold_the_numbers_of_the_cells(tmp_path):
    linear = {0: 150.0, 1: 160.0, 2: 155.0}
    nonlinear = {0: 120.0, 1: 125.0, 2: 121.0}
    for seed in linear:
        _cell(tmp_path, "lin", seed, linear[seed], 0.5, block="linear")
        _cell(tmp_path, "nl", seed, nonlinear[seed], 0.6)
    rows = claims.table(claims.load_cells(tmp_path))
    row = _row(rows, "non-linear vs linear block")
    assert row["a"]["mean"] == pytest.approx(statistics.mean(linear.values()))
    assert row["a"]["std"] == pytest.approx(statistics.stdev(linear.values()))
    assert row["b"]["mean"] == pytest.approx(statistics.mean(nonlinear.values()))
    assert row["b"]["skill"] == pytest.approx(0.6)
    diffs = [nonlinear[s] - linear[s] for s in linear]
    assert row["effect"] == pytest.approx(statistics.mean(diffs))
    assert row["spread"] == pytest.approx(statistics.stdev(diffs))
    assert row["verdict"] == "reproduced"
    # claims without cells are inconclusive, never a verdict
    assert _row(rows, "domain-bridging sets")["verdict"].startswith("inconclusive (0")
    page = claims.render(rows)
    assert f"{statistics.mean(nonlinear.values()):.0f} ± " in page


def test_two_seeds_give_no_verdict_and_a_reversed_effect_is_refuted(tmp_path):
    for seed in (0, 1):
        _cell(tmp_path, "lin", seed, 100.0 + seed, 0.5, block="linear")
        _cell(tmp_path, "nl", seed, 200.0 + seed, 0.2)
    row = _row(claims.table(claims.load_cells(tmp_path)), "non-linear vs linear block")
    assert row["verdict"] == "inconclusive (2 paired seeds)"
    _cell(tmp_path, "lin", 2, 103.0, 0.5, block="linear")
    _cell(tmp_path, "nl", 2, 201.0, 0.2)
    row = _row(claims.table(claims.load_cells(tmp_path)), "non-linear vs linear block")
    assert row["verdict"] == "refuted"


def test_a_side_takes_another_heads_error_and_one_seed_twice_is_an_error(tmp_path):
    errors = {
        "pooled on mol test": {"forces_mae": 300.0, "forces_skill": 0.1},
        "mol on mol test": {"forces_mae": 200.0, "forces_skill": 0.4},
    }
    short = {"budget": {"mol_train": 1000, "pretrain_steps": claims.SHORT_STEPS}}
    for seed in (0, 1, 2):
        _cell(tmp_path, "pooled", seed, 0.0, 0.0, mode="pooled", errors=errors, **short)
        _cell(tmp_path, "mh", seed, 0.0, 0.0, mode="replay", replay=0.3, errors=errors, **short)
    name = f"multi-head vs pooled single head (mol; {claims.SHORT_STEPS} + 600 steps)"
    row = _row(claims.table(claims.load_cells(tmp_path)), name)
    assert (row["a"]["mean"], row["b"]["mean"]) == (300.0, 200.0)
    assert row["effect"] == pytest.approx(-100.0)
    assert row["error"] == "pooled on mol test / mol on mol test"
    # a cell in a subdirectory is read too; two cells of one seed on one side are refused
    (tmp_path / "more").mkdir()
    _cell(tmp_path / "more", "pooled-again", 0, 0.0, 0.0, mode="pooled", errors=errors, **short)
    with pytest.raises(ValueError, match="several cells of one seed"):
        claims.table(claims.load_cells(tmp_path))


def test_the_committed_page_is_what_the_committed_cells_give():
    if not claims.PAGE.exists():
        pytest.skip("no claims page in this checkout")
    assert claims.PAGE.read_text() == claims.page(claims.load_cells())
