"""Benchmarks of mmh that take any ASE calculator: physicality, in-domain errors, speed,
molecular and materials tests, the paper's score (Table XX), reports and plots.

Every benchmark takes an ASE calculator and returns a [`BenchmarkResult`][mmh_bench.BenchmarkResult]
(metrics, units, raw data). [`score`][mmh_bench.score] turns a set of results into the paper's
domain and global scores; [`run_suite`][mmh_bench.run_suite] runs benchmarks one after the other and
writes a report; the ``mmh-bench`` command does the same from the shell.

Example:
    >>> from ase.calculators.emt import EMT
    >>> from mmh_bench import h_additivity, slab_extensivity
    >>> slab_extensivity(EMT()).metrics  # doctest: +SKIP
    {'delta_mev': 0.0}
"""

from importlib import metadata as _metadata

from . import external
from ._calculators import CALCULATORS, TBLITE_SETTINGS, make_calculator, model_calculator
from ._diatomics import DIATOMIC_METRICS, curve_metrics, diatomic_curve, diatomics
from ._elements import EMT_ELEMENTS, calculator_elements, element_pairs
from ._in_domain import in_domain
from ._locality import fcc111_slab, h_additivity, slab_extensivity
from ._plots import plot_diatomics, plot_parity, plot_radar
from ._report import load_results, load_run_info, write_report
from ._result import DOMAINS, BenchmarkResult
from ._score import (
    DOMAIN_WEIGHTS,
    REPORTED_NOT_SCORED,
    SCORE_TABLE,
    ScoreRow,
    Scores,
    normalise,
    score,
)
from ._spec import CalculatorSpec, CalculatorSpecError, calculator_from_spec, parse_spec
from ._suite import BENCHMARKS, SUITES, SuiteOptions, SuiteRun, resolve_benchmarks, run_suite
from .materials import equation_of_state
from .molecular import dbh24, s22, s22x5, s26

try:  # the speed benchmark ships in its own module, which a partial checkout may lack
    from .speed import speed
except ModuleNotFoundError as _err:
    if _err.name != f"{__name__}.speed":
        raise
    _HAVE_SPEED = False
else:
    _HAVE_SPEED = True

try:
    __version__ = _metadata.version("mmh-bench")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = [
    "BENCHMARKS",
    "CALCULATORS",
    "DIATOMIC_METRICS",
    "DOMAINS",
    "DOMAIN_WEIGHTS",
    "EMT_ELEMENTS",
    "REPORTED_NOT_SCORED",
    "SCORE_TABLE",
    "SUITES",
    "TBLITE_SETTINGS",
    "BenchmarkResult",
    "CalculatorSpec",
    "CalculatorSpecError",
    "ScoreRow",
    "Scores",
    "SuiteOptions",
    "SuiteRun",
    "__version__",
    "calculator_elements",
    "calculator_from_spec",
    "curve_metrics",
    "dbh24",
    "diatomic_curve",
    "diatomics",
    "element_pairs",
    "equation_of_state",
    "external",
    "fcc111_slab",
    "h_additivity",
    "in_domain",
    "load_results",
    "load_run_info",
    "make_calculator",
    "model_calculator",
    "normalise",
    "parse_spec",
    "plot_diatomics",
    "plot_parity",
    "plot_radar",
    "resolve_benchmarks",
    "run_suite",
    "s22",
    "s22x5",
    "s26",
    "score",
    "slab_extensivity",
    "write_report",
]
if _HAVE_SPEED:
    __all__ += ["speed"]
