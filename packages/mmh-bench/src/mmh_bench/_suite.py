"""The benchmark suite: named benchmarks and groups, run one after the other.

Benchmarks of the other modules (``speed``, ``molecular``, ``materials``, ``external``) are
imported only when they run, so the suite works with whatever this installation holds.
"""

from __future__ import annotations

import importlib
import json
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ._diatomics import diatomics
from ._elements import calculator_elements, describe_calculator
from ._in_domain import in_domain
from ._locality import h_additivity, slab_extensivity
from ._report import write_report
from ._result import BenchmarkResult

__all__ = ["BENCHMARKS", "SUITES", "SuiteOptions", "SuiteRun", "resolve_benchmarks", "run_suite"]

#: Groups of benchmarks accepted by `run_suite` (besides single benchmark names).
SUITES: dict[str, tuple[str, ...]] = {
    "physicality": ("slab_extensivity", "h_additivity", "diatomics"),
    "in_domain": ("in_domain",),
    "molecular": ("s22", "s26", "s22x5", "dbh24"),
    "materials": ("equation_of_state",),
    "speed": ("speed",),
    "external": (
        "x23",
        "ice_polymorphs",
        "s24",
        "oc20",
        "wiggle150",
        "gmtkn55",
        "plf547",
        "s30l",
    ),
}

#: Every benchmark the suite can run, in running order.
BENCHMARKS: tuple[str, ...] = tuple(name for group in SUITES.values() for name in group)

_EXTERNAL_DIRS = {"ice_polymorphs": ("ice_polymorphs", "ice")}


@dataclass
class SuiteOptions:
    """Options of the suite's benchmarks; the defaults are the paper's protocols.

    Attributes:
        elements: Elements of the diatomic curves (and the equation of state); default: the
            calculator's own (``calc.elements``, EMT's table).
        pairs: Explicit diatomic pairs (``"H-O"``) instead of all pairs of ``elements``.
        heteronuclear: Include heteronuclear diatomics.
        diatomic_points: Points per diatomic curve (0.18–6.0 Å).
        metals: The two slab metals of the extensivity test.
        slab_size: In-plane repetitions of the slabs.
        slab_layers: Layers of the slabs.
        h_distances: Heights (Å) of the H atom above the slab in the additivity test.
        in_domain_datasets: Bundled datasets for the in-domain errors (default: all).
        in_domain_heads: Dataset → head (default: the head named like the dataset, else the
            calculator's head).
        max_frames: At most this many frames per dataset for the in-domain errors.
        data_dir: Root of the external benchmarks' data: ``data_dir/<benchmark>`` (e.g.
            ``data/x23``, ``data/gmtkn55``; case-insensitive; ``ice`` also names
            ``ice_polymorphs``).
        on_error: Passed to the molecular, materials and external benchmarks: ``"raise"``
            (a system the calculator fails on fails the benchmark) or ``"skip"`` (it is left
            out and listed in the result's data; the MAE then covers fewer systems).
    """

    elements: Sequence[str] | None = None
    pairs: Sequence[str] | None = None
    heteronuclear: bool = True
    diatomic_points: int = 100
    metals: tuple[str, str] = ("Al", "Ni")
    slab_size: tuple[int, int] = (4, 4)
    slab_layers: int = 8
    h_distances: tuple[float, ...] = (50.0, 60.0, 70.0, 80.0, 90.0, 100.0)
    in_domain_datasets: Sequence[str] | None = None
    in_domain_heads: Mapping[str, str] | None = None
    max_frames: int | None = None
    data_dir: str | Path | None = None
    on_error: str = "raise"


@dataclass
class SuiteRun:
    """What a suite run produced.

    Attributes:
        results: The results of the benchmarks that ran.
        failures: Benchmark → error message, for those that raised.
        skipped: Benchmark → reason, for those of a group that could not run here (no
            data directory for an external benchmark).
        timings_s: Benchmark → wall time in seconds.
        report: Path of ``report.md`` when an output directory was given.
    """

    results: list[BenchmarkResult] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    report: Path | None = None


class _Skip(Exception):
    """A benchmark that cannot run in this setting (reported as skipped)."""


def resolve_benchmarks(names: Sequence[str]) -> tuple[list[str], set[str]]:
    """Expand group names into benchmarks, in running order, without duplicates.

    Returns:
        The benchmarks, and the subset that was named explicitly (not through a group).

    Raises:
        ValueError: An unknown name (lists the groups and benchmarks).
    """
    chosen, explicit = [], set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in SUITES:
            chosen += SUITES[name]
        elif name in BENCHMARKS:
            chosen.append(name)
            explicit.add(name)
        else:
            raise ValueError(
                f"unknown benchmark or suite {name!r}; suites: {sorted(SUITES)}; "
                f"benchmarks: {list(BENCHMARKS)}"
            )
    order = {n: i for i, n in enumerate(BENCHMARKS)}
    return sorted(dict.fromkeys(chosen), key=order.__getitem__), explicit


def _module(name: str) -> Any:
    try:
        return importlib.import_module(f"mmh_bench.{name}")
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("mmh_bench"):
            raise RuntimeError(f"mmh_bench.{name} is not available in this installation") from err
        raise


def _data_path(root: Path | None, name: str) -> Path:
    if root is None:
        raise _Skip("needs a data directory (data_dir / --data-dir)")
    root = Path(root)
    wanted = _EXTERNAL_DIRS.get(name, (name,))
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if child.is_dir() and child.name.lower() in wanted:
                return child
    raise _Skip(f"no directory {root / wanted[0]}")


@dataclass
class _Context:
    calc: Any
    options: SuiteOptions
    in_domain_calculators: Any


def _run_one(name: str, ctx: _Context) -> BenchmarkResult:
    o, calc = ctx.options, ctx.calc
    if name == "slab_extensivity":
        return slab_extensivity(calc, o.metals, size=o.slab_size, layers=o.slab_layers)
    if name == "h_additivity":
        return h_additivity(
            calc, o.metals[0], o.h_distances, size=o.slab_size, layers=o.slab_layers
        )
    if name == "diatomics":
        return diatomics(
            calc,
            o.elements,
            pairs=o.pairs,
            heteronuclear=o.heteronuclear,
            n_points=o.diatomic_points,
        )
    if name == "in_domain":
        heads = dict(o.in_domain_heads or {})
        return in_domain(
            ctx.in_domain_calculators if ctx.in_domain_calculators is not None else calc,
            o.in_domain_datasets,
            heads,
            max_frames=o.max_frames,
        )
    if name in SUITES["molecular"]:
        return getattr(_module("molecular"), name)(calc, on_error=o.on_error)
    if name == "equation_of_state":
        elements = o.elements if o.elements is not None else calculator_elements(calc)
        return _module("materials").equation_of_state(calc, elements, on_error=o.on_error)
    if name == "speed":
        return _module("speed").speed(calc)
    if name in SUITES["external"]:
        path = _data_path(Path(o.data_dir) if o.data_dir is not None else None, name)
        return getattr(_module("external"), name)(calc, path, on_error=o.on_error)
    raise ValueError(f"unknown benchmark {name!r}")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("mmh-bench", "mmh-ase", "mmh-heads", "ase", "numpy", "torch", "tblite"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def run_suite(
    calculator: Any,
    benchmarks: Sequence[str] = ("physicality",),
    *,
    options: SuiteOptions | None = None,
    in_domain_calculators: Any = None,
    out_dir: str | Path | None = None,
    description: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> SuiteRun:
    """Run benchmarks on one calculator; write results and the report when asked.

    A benchmark that raises does not stop the suite: its error is kept in
    `SuiteRun.failures` (and the report). External benchmarks reached through the
    ``external`` group without their data directory are skipped; named explicitly, they
    fail.

    Args:
        calculator: The ASE calculator benchmarked.
        benchmarks: Suite groups ([`SUITES`][mmh_bench.SUITES]) and/or benchmark names
            ([`BENCHMARKS`][mmh_bench.BENCHMARKS]).
        options: Benchmark options.
        in_domain_calculators: Calculators for the in-domain errors (a mapping or factory
            head → calculator, see [`mmh_bench.in_domain`][]); default ``calculator``.
        out_dir: When given, each result is saved to ``out_dir/results/<name>.json`` as soon
            as it is done, and ``run.json``, ``report.md``, ``report.json`` and the figures
            are written at the end.
        description: Description of the calculator for the results and the report
            (default: its ``description``, ASE name or class).
        progress: Called with a one-line message before and after each benchmark.

    Returns:
        The results, failures, skipped benchmarks, timings and the report path.
    """
    options = options or SuiteOptions()
    names, explicit = resolve_benchmarks(benchmarks)
    description = description or describe_calculator(calculator)
    ctx = _Context(calculator, options, in_domain_calculators)
    run = SuiteRun()
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        (out / "results").mkdir(parents=True, exist_ok=True)
    say = progress or (lambda message: None)
    for name in names:
        say(f"{name}: running")
        start = time.perf_counter()
        try:
            result = _run_one(name, ctx)
        except _Skip as reason:
            if name in explicit:
                run.failures[name] = str(reason)
                say(f"{name}: failed ({reason})")
            else:
                run.skipped[name] = str(reason)
                say(f"{name}: skipped ({reason})")
            continue
        except Exception as err:  # one failing benchmark must not stop the suite
            run.failures[name] = f"{type(err).__name__}: {err}"
            run.timings_s[name] = time.perf_counter() - start
            say(f"{name}: failed ({type(err).__name__}: {err})")
            continue
        run.timings_s[name] = time.perf_counter() - start
        if name != "in_domain" or not result.calculator:
            result.calculator = description
        run.results.append(result)
        if out is not None:
            result.save(out / "results" / f"{result.name}.json")
        say(f"{name}: done in {run.timings_s[name]:.1f} s")
    if out is not None:
        info = {
            "calculator": description,
            "benchmarks": names,
            "options": json.loads(json.dumps(asdict(options), default=str)),
            "failures": run.failures,
            "skipped": run.skipped,
            "timings_s": run.timings_s,
            "versions": _versions(),
        }
        (out / "run.json").write_text(json.dumps(info, indent=2) + "\n")
        run.report = write_report(run.results, out, run_info=info)
    return run
