"""Benchmarks of the paper that run on data the user downloads: X23, ice polymorphs, S24,
OC20, Wiggle150, GMTKN55, PLF547 and S30L.

Each benchmark is a function ``name(calculator, root, ...)`` that reads a data directory
(``structures.extxyz`` plus a reference table; the layouts are documented in each module
and in the "External benchmarks" page of the documentation) and returns a
[`mmh_bench.BenchmarkResult`][]; ``load_<name>(root)`` returns the parsed
`EnergyDifference` list without computing anything.
"""

from ._evaluate import EnergyEvaluator, describe_calculator, set_charge_and_multiplicity
from ._io import BenchmarkDataError
from ._reactions import EnergyDifference, Term
from .gmtkn55 import GMTKN55_GROUPS, WTMAD2_MEAN_KCAL_MOL, gmtkn55, load_gmtkn55
from .ice import ice_polymorphs, load_ice_polymorphs
from .oc20 import load_oc20, oc20
from .plf547 import load_plf547, plf547
from .s24 import load_s24, s24
from .s30l import load_s30l, s30l
from .wiggle150 import load_wiggle150, wiggle150
from .x23 import load_x23, x23

__all__ = [
    "GMTKN55_GROUPS",
    "WTMAD2_MEAN_KCAL_MOL",
    "BenchmarkDataError",
    "EnergyDifference",
    "EnergyEvaluator",
    "Term",
    "describe_calculator",
    "gmtkn55",
    "ice_polymorphs",
    "load_gmtkn55",
    "load_ice_polymorphs",
    "load_oc20",
    "load_plf547",
    "load_s24",
    "load_s30l",
    "load_wiggle150",
    "load_x23",
    "oc20",
    "plf547",
    "s24",
    "s30l",
    "set_charge_and_multiplicity",
    "wiggle150",
    "x23",
]
