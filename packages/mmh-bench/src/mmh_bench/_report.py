"""The benchmark report: results directory layout, Markdown and JSON report, figures.

A run directory looks like::

    OUT/
      results/<name>.json   one BenchmarkResult per benchmark (BenchmarkResult.save)
      run.json              calculator, options, failures, skipped benchmarks, timings
      report.md             the report (written by write_report)
      report.json           scores and all metrics, machine-readable
      figures/*.png         radar chart, diatomic curves, parity plots

Benchmarks that cannot run offline (elastic moduli, phonons, thermal conductivity, ...) are
scored when their result files are dropped into ``results/``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._plots import plot_diatomics, plot_parity, plot_radar
from ._result import BenchmarkResult
from ._score import DOMAIN_WEIGHTS, SCORE_TABLE, Scores, score

__all__ = ["load_results", "load_run_info", "write_report"]

_DOMAIN_NAMES = {
    "materials": "Materials",
    "molecular_crystals": "Molecular crystals",
    "surfaces": "Surfaces",
    "molecules": "Molecules",
    "physicality": "Physicality",
    "speed": "Speed",
    "in_domain": "In-domain",
}


def _results_dir(directory: Path) -> Path:
    sub = directory / "results"
    return sub if sub.is_dir() else directory


def load_results(directory: str | Path) -> list[BenchmarkResult]:
    """Read every ``*.json`` result of a run directory (``DIR/results/`` if it exists,
    else ``DIR`` itself), sorted by name.

    Raises:
        FileNotFoundError: The directory does not exist.
        ValueError: A file is not a benchmark result (names the file and the problem).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such results directory")
    results = []
    for file in sorted(_results_dir(directory).glob("*.json")):
        if file.name in ("run.json", "report.json"):
            continue
        try:
            results.append(BenchmarkResult.from_dict(json.loads(file.read_text())))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(
                f"{file}: not a benchmark result ({type(err).__name__}: {err})"
            ) from err
    return sorted(results, key=lambda r: r.name)


def load_run_info(directory: str | Path) -> dict[str, Any]:
    """The ``run.json`` of a run directory, or an empty dict when there is none."""
    file = Path(directory) / "run.json"
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{file}: not valid JSON: {err}") from err


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value.replace("|", "\\|").replace("\n", " ")
    value = float(value)
    if math.isnan(value):
        return "—"
    if value == 0.0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.3e}"
    return f"{value:.4g}"


def _table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_fmt(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _score_section(scores: Scores, figures: dict[str, list[str]]) -> list[str]:
    out = ["## Score (paper Table XX)", ""]
    out += _table(
        ["Domain", "Weight", "Score", "Metrics present"],
        (
            [_DOMAIN_NAMES[d], w, scores.domains[d], "{} of {}".format(*scores.domain_coverage[d])]
            for d, w in DOMAIN_WEIGHTS.items()
        ),
    )
    if scores.global_score is None:
        out.append("**Global score**: — (no scored benchmark has a result).")
    else:
        out.append(
            f"**Global score**: {scores.global_score:.3f}, the weighted mean of the domains "
            f"present (they carry {scores.weight_coverage:.2f} of the weight)."
        )
        if scores.missing_domains:
            missing = ", ".join(_DOMAIN_NAMES[d] for d in scores.missing_domains)
            out.append(
                f"Missing domains: {missing}. With these counted as 0 (the paper's weights "
                f"unchanged) the score is {scores.global_lower_bound:.3f}, a lower bound of "
                "the paper's global score."
            )
        elif not scores.complete:
            out.append(
                "Some rows of Table XX have no result; domain scores average the rows present."
            )
    out.append("")
    out += [f"![domain scores]({f})" for f in figures.get("radar", [])] + [""]
    present = [r for r in scores.rows if r["score"] is not None]
    if present:
        out += ["### Scored metrics", ""]
        out += _table(
            ["Domain", "Benchmark", "Table XX row", "Value", "Unit", "Best", "Worst", "Score"],
            (
                [
                    _DOMAIN_NAMES[r["domain"]],
                    f"`{r['benchmark']}`",
                    r["label"],
                    r["value"],
                    r["unit"],
                    r["best"],
                    r["worst"],
                    r["score"],
                ]
                for r in present
            ),
        )
    absent = sorted({r["benchmark"] for r in scores.rows if r["score"] is None})
    if absent:
        out += [
            "Benchmarks of Table XX without a result: " + ", ".join(f"`{b}`" for b in absent),
            "",
        ]
    return out


def _physicality_section(by_name: Mapping[str, BenchmarkResult], figures) -> list[str]:
    out = []
    slab = by_name.get("slab_extensivity")
    if slab is not None:
        out += ["### Slab extensivity", ""]
        out += _table(
            ["Stack", "E₁ (eV)", "E₂ (eV)", "E₁₂ (eV)", "Δ (meV)"],
            (
                [" / ".join(s["metals"]), s["e1_ev"], s["e2_ev"], s["e12_ev"], s["delta_mev"]]
                for s in slab.data.get("stacks", [])
            ),
        )
    add = by_name.get("h_additivity")
    if add is not None:
        out += ["### H additivity", ""]
        out += _table(
            ["H height (Å)", "max |ΔF| (meV/Å)", "mean |ΔF| (meV/Å)", "|ΔF| on H", "ΔE (meV)"],
            (
                [
                    p["distance_a"],
                    p["max_abs_df_mev_per_a"],
                    p["mean_abs_df_mev_per_a"],
                    p["h_abs_df_mev_per_a"],
                    p["delta_energy_mev"],
                ]
                for p in add.data.get("per_distance", [])
            ),
        )
    dia = by_name.get("diatomics")
    if dia is not None:
        pairs = dia.data.get("pairs", {})
        out += [f"### Diatomics ({len(pairs)} pairs)", ""]
        out += _table(
            ["Pair", "Force flips", "Energy minima", "Inflections", "ρ repulsive", "ρ attractive"],
            (
                [
                    name,
                    *(
                        p["metrics"].get(k)
                        for k in (
                            "force_flips",
                            "energy_minima",
                            "inflections",
                            "spearman_repulsive",
                            "spearman_attractive",
                        )
                    ),
                ]
                for name, p in pairs.items()
            ),
        )
        failed = dia.data.get("failed_points", [])
        if failed:
            out += [f"{len(failed)} points failed, e.g. {failed[0]}", ""]
        out += [f"![diatomic curves]({f})" for f in figures.get("diatomics", [])] + [""]
    return (["## Physicality details", "", *out]) if out else []


def _in_domain_section(result: BenchmarkResult | None, figures) -> list[str]:
    if result is None:
        return []
    out = ["## In-domain errors (bundled test splits; reported, not scored)", ""]
    rows = []
    for name, entry in result.data.get("datasets", {}).items():
        key = name.replace("-", "_")
        m = result.metrics
        rows.append(
            [
                name,
                entry.get("head") or "—",
                entry.get("n_frames"),
                entry.get("skipped_frames", 0) + entry.get("failed_frames", 0),
                m.get(f"{key}_energy_mae_mev_per_atom"),
                m.get(f"{key}_energy_rmse_mev_per_atom"),
                m.get(f"{key}_forces_mae_mev_per_a"),
                m.get(f"{key}_forces_rmse_mev_per_a"),
                m.get(f"{key}_stress_mae_mev_per_a3"),
                m.get(f"{key}_stress_rmse_mev_per_a3"),
            ]
        )
    out += _table(
        [
            "Dataset",
            "Head",
            "Frames",
            "Skipped/failed",
            "E MAE (meV/atom)",
            "E RMSE (meV/atom)",
            "F MAE (meV/Å)",
            "F RMSE (meV/Å)",
            "σ MAE (meV/Å³)",
            "σ RMSE (meV/Å³)",
        ],
        rows,
    )
    out += [f"![parity]({f})" for f in figures.get("in_domain", [])] + [""]
    return out


def _others_section(results: list[BenchmarkResult], figures) -> list[str]:
    scored = {row.benchmark for row in SCORE_TABLE}
    out = ["## All results", ""]
    for r in results:
        if r.name == "in_domain":
            continue
        status = "scored" if r.name in scored else "reported, not scored"
        out += [f"### `{r.name}` ({_DOMAIN_NAMES.get(r.domain, r.domain)}; {status})", ""]
        if r.calculator:
            out += [f"Calculator: {r.calculator}", ""]
        out += _table(
            ["Metric", "Value", "Unit"], ([k, v, r.units.get(k, "")] for k, v in r.metrics.items())
        )
        if r.name != "diatomics":
            out += [f"![{r.name}]({f})" for f in figures.get(r.name, [])]
        out.append("")
    return out


def _draw(results: list[BenchmarkResult], scores: Scores, out_dir: Path) -> dict[str, list[str]]:
    fig_dir = out_dir / "figures"
    figures: dict[str, list[str]] = {}

    def rel(paths: Iterable[Path]) -> list[str]:
        return [p.relative_to(out_dir).as_posix() for p in paths]

    if any(v is not None for v in scores.domains.values()):
        figures["radar"] = rel([plot_radar(scores.domains, fig_dir / "radar.png")])
    for r in results:
        if r.name == "diatomics" and r.data.get("pairs"):
            figures["diatomics"] = rel(
                plot_diatomics(r.data["distances_a"], r.data["pairs"], fig_dir / "diatomics.png")
            )
        elif r.name == "in_domain":
            written = []
            for name, e in r.data.get("datasets", {}).items():
                panels = [
                    ("E/atom", "eV", e["energy_per_atom_ref_ev"], e["energy_per_atom_pred_ev"]),
                    ("F", "eV/Å", e["forces_ref_ev_per_a"], e["forces_pred_ev_per_a"]),
                ]
                if "stress_ref_ev_per_a3" in e:
                    panels.append(
                        ("σ", "eV/Å³", e["stress_ref_ev_per_a3"], e["stress_pred_ev_per_a3"])
                    )
                written.append(plot_parity(panels, fig_dir / f"parity_in_domain_{name}.png", name))
            figures["in_domain"] = rel(written)
        else:
            ref, pred = r.data.get("reference"), r.data.get("predicted")
            if isinstance(ref, list) and isinstance(pred, list) and ref and len(ref) == len(pred):
                try:
                    values = [
                        [float("nan") if v is None else float(v) for v in x] for x in (ref, pred)
                    ]
                except (TypeError, ValueError):
                    continue
                unit = str(r.data.get("unit", ""))
                label = str(r.data.get("quantity", "value"))
                path = fig_dir / f"parity_{r.name}.png"
                figures[r.name] = rel([plot_parity([(label, unit, *values)], path, r.name)])
    return figures


def write_report(
    results: Iterable[BenchmarkResult],
    out_dir: str | Path,
    *,
    run_info: Mapping[str, Any] | None = None,
    title: str = "mmh-bench report",
) -> Path:
    """Write ``report.md``, ``report.json`` and the figures of a set of results.

    Args:
        results: The benchmark results (at most one per name).
        out_dir: Directory to write into (created if needed).
        run_info: The run's ``run.json`` content (calculator, failures, skipped, timings),
            shown in the report when given.
        title: Title of the Markdown report.

    Returns:
        The path of ``report.md``.
    """
    results = sorted(results, key=lambda r: r.name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_info = dict(run_info or {})
    scores = score(results)
    figures = _draw(results, scores, out_dir)
    by_name = {r.name: r for r in results}

    lines = [f"# {title}", ""]
    calcs = run_info.get("calculator") or "; ".join(
        dict.fromkeys(r.calculator for r in results if r.calculator)
    )
    if calcs:
        lines += [f"Calculator: {calcs}", ""]
    if not results:
        lines += ["No benchmark results.", ""]
    lines += _score_section(scores, figures)
    lines += _physicality_section(by_name, figures)
    lines += _in_domain_section(by_name.get("in_domain"), figures)
    lines += _others_section(results, figures)
    failures = run_info.get("failures") or {}
    skipped = run_info.get("skipped") or {}
    if failures:
        lines += ["## Failed benchmarks", ""]
        lines += _table(["Benchmark", "Error"], ([k, v] for k, v in failures.items()))
    if skipped:
        lines += ["## Skipped benchmarks", ""]
        lines += _table(["Benchmark", "Reason"], ([k, v] for k, v in skipped.items()))
    timings = run_info.get("timings_s") or {}
    if timings:
        lines += ["## Timings", ""]
        lines += _table(["Benchmark", "Wall time (s)"], ([k, v] for k, v in timings.items()))
    report = out_dir / "report.md"
    report.write_text("\n".join(lines).rstrip() + "\n")
    summary = {
        "title": title,
        "calculator": calcs,
        "scores": scores.to_dict(),
        "results": {
            r.name: {
                "domain": r.domain,
                "metrics": r.to_dict()["metrics"],
                "units": r.units,
                "calculator": r.calculator,
            }
            for r in results
        },
        "failures": failures,
        "skipped": skipped,
        "timings_s": timings,
        "figures": figures,
    }
    (out_dir / "report.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return report
