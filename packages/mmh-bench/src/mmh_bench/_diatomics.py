"""Homonuclear and heteronuclear diatomic curves (paper §XII.B, Table XIV).

An ideal dimer curve has one force sign change (repulsive to attractive), one energy
minimum and one inflection, and is monotonic on either side of the minimum: Spearman's ρ of
(r, E) is −1 in the repulsive regime (r ≤ r_min) and +1 in the attractive one (r ≥ r_min).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed
from scipy.signal import find_peaks
from scipy.stats import spearmanr

from ._elements import (
    calculator_elements,
    describe_calculator,
    element_pairs,
    normalise_elements,
    parse_pairs,
)
from ._result import BenchmarkResult

__all__ = ["DIATOMIC_METRICS", "curve_metrics", "diatomic_curve", "diatomics"]

#: Metric keys of `diatomics`, each averaged over the pairs.
DIATOMIC_METRICS = (
    "force_flips",
    "energy_minima",
    "inflections",
    "spearman_repulsive",
    "spearman_attractive",
)

_UNITS = {
    "force_flips": "count",
    "energy_minima": "count",
    "inflections": "count",
    "spearman_repulsive": "",
    "spearman_attractive": "",
}


def _sign_changes(values: np.ndarray, tol: float) -> int:
    """Sign changes of a sequence, skipping the values with ``|v| <= tol``."""
    kept = np.sign(values[np.abs(values) > tol])
    return int(np.count_nonzero(kept[1:] != kept[:-1]))


def _spearman(r: np.ndarray, e: np.ndarray) -> float:
    if r.size < 3 or np.ptp(e) == 0.0:
        return math.nan
    return float(spearmanr(r, e).statistic)


def curve_metrics(
    distances: Sequence[float],
    energies: Sequence[float],
    forces: Sequence[float],
    *,
    force_tol: float = 0.01,
    minimum_prominence: float = 0.1,
    curvature_tol: float = 0.5,
) -> dict[str, float]:
    """Smoothness and shape metrics of one dimer curve.

    Definitions (points sorted by distance; non-finite points dropped):

    - ``force_flips``: sign changes of the bond-projected force, skipping points with
      ``|F| <= force_tol`` (eV/Å), so that the flat tail beyond a cutoff adds no noise.
    - ``energy_minima``: interior local minima of E(r) whose prominence (depth below the
      lower of the two barriers around them) is at least ``minimum_prominence`` (eV).
    - ``inflections``: sign changes of d²E/dr² (central finite differences on the grid),
      skipping points with ``|d²E/dr²| <= curvature_tol`` (eV/Å²).
    - ``spearman_repulsive`` / ``spearman_attractive``: Spearman's ρ of (r, E) on the
      points with r ≤ r_min and r ≥ r_min, r_min being the lowest-energy point; NaN when a
      regime has fewer than three points or a constant energy.

    Args:
        distances: Separations in Å.
        energies: Energies in eV.
        forces: Force on the second atom along the bond direction in eV/Å (positive =
            repulsive).
        force_tol: Force magnitude below which a point does not count for sign changes.
        minimum_prominence: Smallest depth of a counted energy minimum.
        curvature_tol: Curvature magnitude below which a point does not count for
            inflections.

    Returns:
        The five metrics of [`DIATOMIC_METRICS`][mmh_bench.DIATOMIC_METRICS] and ``n_points``, the
        number of finite points used (all NaN when fewer than five).
    """
    r = np.asarray(distances, dtype=float)
    e = np.asarray(energies, dtype=float)
    f = np.asarray(forces, dtype=float)
    if not r.shape == e.shape == f.shape or r.ndim != 1:
        raise ValueError(
            f"distances, energies and forces must be 1-D and equally long, got shapes "
            f"{r.shape}, {e.shape}, {f.shape}"
        )
    order = np.argsort(r)
    r, e, f = r[order], e[order], f[order]
    ok = np.isfinite(r) & np.isfinite(e) & np.isfinite(f)
    r, e, f = r[ok], e[ok], f[ok]
    if r.size < 5:
        return {key: math.nan for key in DIATOMIC_METRICS} | {"n_points": int(r.size)}
    minima, _ = find_peaks(-e, prominence=minimum_prominence)
    curvature = np.gradient(np.gradient(e, r), r)
    i_min = int(np.argmin(e))
    return {
        "force_flips": float(_sign_changes(f, force_tol)),
        "energy_minima": float(len(minima)),
        "inflections": float(_sign_changes(curvature, curvature_tol)),
        "spearman_repulsive": _spearman(r[: i_min + 1], e[: i_min + 1]),
        "spearman_attractive": _spearman(r[i_min:], e[i_min:]),
        "n_points": int(r.size),
    }


def diatomic_curve(
    calc: Any, pair: tuple[str, str], distances: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Energies and bond-projected forces of one dimer along ``distances``.

    The dimer is isolated (no cell, no periodicity); atom 1 sits at the origin and atom 2
    at ``(0, 0, r)``. A point whose calculation fails (``CalculationFailed``, e.g. an SCF
    that does not converge) gets NaN.

    Returns:
        Energies (eV), forces on atom 2 along +z (eV/Å, positive = repulsive), and the
        messages of failed points.
    """
    energies = np.full(len(distances), np.nan)
    forces = np.full(len(distances), np.nan)
    failures = []
    for k, r in enumerate(distances):
        atoms = Atoms(list(pair), positions=[[0.0, 0.0, 0.0], [0.0, 0.0, float(r)]])
        atoms.calc = calc
        try:
            energies[k] = atoms.get_potential_energy()
            forces[k] = atoms.get_forces()[1, 2]
        except CalculationFailed as err:
            failures.append(f"{pair[0]}-{pair[1]} at {float(r):.3f} Å: {err}")
    return energies, forces, failures


def diatomics(
    calc: Any,
    elements: Sequence[str | int] | None = None,
    *,
    pairs: Sequence[str | tuple[str, str]] | None = None,
    heteronuclear: bool = True,
    r_min: float = 0.18,
    r_max: float = 6.0,
    n_points: int = 100,
    force_tol: float = 0.01,
    minimum_prominence: float = 0.1,
    curvature_tol: float = 0.5,
) -> BenchmarkResult:
    """Dimer curves of the model's elements and their physicality metrics (paper §XII.B).

    Every homonuclear pair and (with ``heteronuclear``) every heteronuclear pair of
    ``elements`` is computed on ``n_points`` separations evenly spaced from ``r_min`` to
    ``r_max`` (paper: 0.18–6.0 Å, 100 points). The per-pair metrics of
    [`curve_metrics`][mmh_bench.curve_metrics] are averaged over the pairs (Spearman ρ over the
    pairs where it is defined), as in the paper's Table XIV.

    Args:
        calc: Any ASE calculator.
        elements: Elements whose pairs are computed; default: the calculator's own
            (``calc.elements``, or EMT's parameter table).
        pairs: Explicit pairs (``"H-O"`` or ``("H", "O")``) instead of all pairs of
            ``elements``, to keep the number of single points down.
        heteronuclear: Include the heteronuclear pairs of ``elements``.
        r_min: Shortest separation in Å.
        r_max: Longest separation in Å.
        n_points: Number of separations.
        force_tol: See [`curve_metrics`][mmh_bench.curve_metrics].
        minimum_prominence: See [`curve_metrics`][mmh_bench.curve_metrics].
        curvature_tol: See [`curve_metrics`][mmh_bench.curve_metrics].

    Returns:
        ``diatomics`` with the five metrics of [`DIATOMIC_METRICS`][mmh_bench.DIATOMIC_METRICS];
        ``data`` holds the distance grid and every pair's energies, forces and metrics.

    Raises:
        ValueError: When neither ``elements``, ``pairs`` nor the calculator give elements.
    """
    if pairs is not None:
        chosen = parse_pairs(pairs)
    else:
        if elements is None:
            elements = calculator_elements(calc)
        if elements is None:
            raise ValueError(
                "diatomics: the calculator does not expose its elements; pass elements= (or pairs=)"
            )
        chosen = element_pairs(elements, heteronuclear)
    if not chosen:
        raise ValueError("diatomics: no element pairs to compute")
    have = calculator_elements(calc)
    if have is not None:
        missing = sorted(set(normalise_elements([x for p in chosen for x in p])) - set(have))
        if missing:
            raise ValueError(f"diatomics: the calculator has no element(s) {missing}")
    if not 0.0 < r_min < r_max or n_points < 5:
        raise ValueError(
            f"diatomics: need 0 < r_min < r_max and n_points >= 5, got {r_min}, {r_max}, {n_points}"
        )
    grid = np.linspace(r_min, r_max, n_points)
    per_pair, failures = {}, []
    for pair in chosen:
        energies, forces, failed = diatomic_curve(calc, pair, grid)
        failures += failed
        metrics = curve_metrics(
            grid,
            energies,
            forces,
            force_tol=force_tol,
            minimum_prominence=minimum_prominence,
            curvature_tol=curvature_tol,
        )
        per_pair[f"{pair[0]}-{pair[1]}"] = {
            "energies_ev": energies,
            "forces_ev_per_a": forces,
            "metrics": metrics,
        }
    averaged = {}
    for key in DIATOMIC_METRICS:
        values = np.array([p["metrics"][key] for p in per_pair.values()], dtype=float)
        values = values[np.isfinite(values)]
        averaged[key] = float(values.mean()) if values.size else math.nan
    return BenchmarkResult(
        name="diatomics",
        domain="physicality",
        metrics=averaged,
        units=dict(_UNITS),
        data={
            "protocol": {
                "r_min_a": r_min,
                "r_max_a": r_max,
                "n_points": n_points,
                "force_tol_ev_per_a": force_tol,
                "minimum_prominence_ev": minimum_prominence,
                "curvature_tol_ev_per_a2": curvature_tol,
            },
            "distances_a": grid,
            "pairs": per_pair,
            "failed_points": failures,
        },
        calculator=describe_calculator(calc),
    )
