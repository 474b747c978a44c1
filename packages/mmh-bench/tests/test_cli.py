"""The mmh-bench command and the suite."""

import json

import pytest
from bench_kit import CoulombLike
from mmh_bench import SuiteOptions, resolve_benchmarks, run_suite
from mmh_bench.cli import main

TINY = [
    "--pairs",
    "H-H,Al-Ni",
    "--points",
    "20",
    "--slab-size",
    "2x2",
    "--slab-layers",
    "3",
    "--h-distances",
    "50,60",
    "--max-frames",
    "3",
    "--quiet",
]


def test_run_and_report_on_emt(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        [
            "run",
            "--calculator",
            "emt",
            "--suite",
            "physicality,in_domain",
            "--out",
            str(out),
            "--datasets",
            "bulk",
            *TINY,
        ]
    )
    assert rc == 0
    names = sorted(p.stem for p in (out / "results").glob("*.json"))
    assert names == ["diatomics", "h_additivity", "in_domain", "slab_extensivity"]
    info = json.loads((out / "run.json").read_text())
    assert info["calculator"] == "ASE EMT" and info["failures"] == {}
    assert info["options"]["slab_size"] == [2, 2]
    slab = json.loads((out / "results" / "slab_extensivity.json").read_text())
    assert slab["metrics"]["delta_mev"] == pytest.approx(0.0, abs=1e-6)
    assert slab["calculator"] == "ASE EMT"
    for png in ("radar", "diatomics", "parity_in_domain_bulk"):
        assert (out / "figures" / f"{png}.png").stat().st_size > 1000
    summary = json.loads((out / "report.json").read_text())
    assert summary["scores"]["domain_coverage"]["physicality"] == [7, 7]

    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0
    assert "Calculator: ASE EMT" in (out / "report.md").read_text()
    assert "report:" in capsys.readouterr().out


def test_failures_and_skips(tmp_path, capsys):
    rc = main(
        [
            "run",
            "--calculator",
            "emt",
            "--suite",
            "external",
            "--out",
            str(tmp_path / "a"),
            "--quiet",
        ]
    )
    assert rc == 0  # the whole group without data is skipped, not failed
    info = json.loads((tmp_path / "a" / "run.json").read_text())
    assert set(info["skipped"]) == {
        "x23",
        "ice_polymorphs",
        "s24",
        "oc20",
        "wiggle150",
        "gmtkn55",
        "plf547",
        "s30l",
    }
    rc = main(
        [
            "run",
            "--calculator",
            "emt",
            "--suite",
            "x23",
            "--out",
            str(tmp_path / "b"),
            "--data-dir",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert rc == 1
    assert (
        "no directory" in json.loads((tmp_path / "b" / "run.json").read_text())["failures"]["x23"]
    )
    assert "failed: x23" in capsys.readouterr().err
    assert main(["run", "--calculator", "emt", "--suite", "nonsense", "--out", str(tmp_path)]) == 2
    assert "unknown benchmark or suite 'nonsense'" in capsys.readouterr().err
    assert main(["run", "--calculator", "emt", "--out", str(tmp_path), "--metals", "Al"]) == 2
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    with pytest.raises(SystemExit):
        main(["run", "--calculator", "emt"])  # --out is required


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "physicality: slab_extensivity, h_additivity, diatomics" in out
    assert "gmtkn55.overall_mae_kcal_mol" in out


def test_suite_records_a_failing_benchmark_and_goes_on(tmp_path):
    options = SuiteOptions(
        pairs=["Al-F"],  # EMT has no F: diatomics fails
        diatomic_points=10,
        slab_size=(2, 2),
        slab_layers=3,
        h_distances=(50.0,),
    )
    run = run_suite(
        CoulombLike(),
        ["physicality"],
        options=options,
        out_dir=tmp_path,
        description="toy",
    )
    assert [r.name for r in run.results] == ["slab_extensivity", "h_additivity"]
    assert run.results[0].metrics["delta_mev"] > 100.0  # the non-local toy is caught
    assert run.results[1].metrics["max_abs_df_mev_per_a"] > 1.0
    assert run.results[0].calculator == "toy"
    assert list(run.failures) == ["diatomics"]
    assert "no element(s) ['F']" in run.failures["diatomics"]
    text = run.report.read_text()
    assert "## Failed benchmarks" in text and "| diatomics | ValueError: diatomics:" in text
    assert json.loads((tmp_path / "run.json").read_text())["failures"] == run.failures


def test_resolve_benchmarks():
    names, explicit = resolve_benchmarks(["diatomics", "physicality", " ", "s22"])
    assert names == ["slab_extensivity", "h_additivity", "diatomics", "s22"]
    assert explicit == {"diatomics", "s22"}
