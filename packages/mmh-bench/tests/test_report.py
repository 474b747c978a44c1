"""Report: Markdown + JSON, figures, reloading results from a directory."""

import json

import numpy as np
import pytest
from bench_kit import Labels, PairMorse
from mmh_bench import (
    BenchmarkResult,
    diatomics,
    in_domain,
    load_results,
    plot_radar,
    write_report,
)
from mmh_data import datasets


def _png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results():
    frames = datasets.load_atoms("bulk", "test")
    return [
        diatomics(PairMorse(), ["H", "O"], n_points=30),
        in_domain(Labels(frames, de_per_atom=0.002, df=0.01), ["bulk"], max_frames=4),
        BenchmarkResult(
            "slab_extensivity",
            "physicality",
            {"delta_mev": 0.0},
            {"delta_mev": "meV"},
            data={
                "stacks": [
                    {
                        "metals": ["Al", "Ni"],
                        "e1_ev": -1.0,
                        "e2_ev": -2.0,
                        "e12_ev": -3.0,
                        "delta_mev": 0.0,
                    }
                ]
            },
        ),
        BenchmarkResult(
            "x23",
            "molecular_crystals",
            {"mae_kcal_mol": 5.45},
            {"mae_kcal_mol": "kcal/mol"},
            data={"reference": [1.0, 2.0, 3.0], "predicted": [1.5, 2.5, None]},
        ),
        BenchmarkResult("s22", "molecules", {"mae_kcal_mol": 0.8}, {"mae_kcal_mol": "kcal/mol"}),
    ]


def test_report_files(tmp_path, results):
    report = write_report(results, tmp_path, run_info={"failures": {"dbh24": "no Cl | in EMT"}})
    text = report.read_text()
    for png in ("radar", "diatomics", "parity_in_domain_bulk", "parity_x23"):
        assert _png(tmp_path / "figures" / f"{png}.png"), png
        assert f"figures/{png}.png" in text
    assert "**Global score**: " in text and "Missing domains: Materials" in text
    assert "| Molecular crystals | `x23` | X23 formation energy MAE | 5.45 | kcal/mol" in text
    assert "### `s22` (Molecules; reported, not scored)" in text
    assert "| bulk | — | 4 | 0 | 2 | 2 | 10 | 10 |" in text
    assert "no Cl \\| in EMT" in text  # table cells are escaped
    summary = json.loads((tmp_path / "report.json").read_text())
    assert summary["scores"]["domains"]["molecular_crystals"] == pytest.approx(0.9)
    assert summary["results"]["x23"]["metrics"] == {"mae_kcal_mol": 5.45}
    assert summary["failures"] == {"dbh24": "no Cl | in EMT"}


def test_results_round_trip_through_a_directory(tmp_path, results):
    (tmp_path / "results").mkdir()
    for r in results:
        r.save(tmp_path / "results" / f"{r.name}.json")
    again = load_results(tmp_path)
    assert [r.name for r in again] == sorted(r.name for r in results)
    dia = next(r for r in again if r.name == "diatomics")
    np.testing.assert_allclose(dia.data["distances_a"], np.linspace(0.18, 6.0, 30))
    write_report(again, tmp_path / "again")
    assert _png(tmp_path / "again" / "figures" / "diatomics.png")

    (tmp_path / "results" / "broken.json").write_text('{"name": "x"}')
    with pytest.raises(ValueError, match=r"broken\.json: not a benchmark result"):
        load_results(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such results directory"):
        load_results(tmp_path / "nowhere")


def test_report_without_results_and_radar_with_missing_domains(tmp_path):
    text = write_report([], tmp_path).read_text()
    assert "No benchmark results." in text and "**Global score**: —" in text
    assert not (tmp_path / "figures" / "radar.png").exists()
    path = plot_radar({"physicality": 0.7, "molecules": None}, tmp_path / "r.png")
    assert _png(path)
