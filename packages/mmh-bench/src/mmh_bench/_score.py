"""The paper's score: Table XX normalisation bounds, domain scores and the global score.

Every scored metric ``x`` is normalised with its bounds, best ``b`` and worst ``w``::

    s = clip((x - w) / (b - w), 0, 1)

so that ``s = 1`` at (or beyond) the best bound and ``s = 0`` at (or beyond) the worst,
whichever direction the metric runs. A domain's score is the mean of the normalised scores
of its metrics that are present (each row of Table XX counts once). The global score is the
weighted sum of the domain scores with the weights of [`DOMAIN_WEIGHTS`][mmh_bench.DOMAIN_WEIGHTS]
(paper §VI).

When a domain has no result at all it is reported as missing, and the global score is
renormalised over the domains that are present: ``Σ_present w_d s_d / Σ_present w_d``.
`Scores.weight_coverage` (``Σ_present w_d``) says how much of the paper's weight the
global score covers, and `Scores.global_lower_bound` (``Σ_present w_d s_d``, i.e. the
missing domains counted as zero) is the paper-comparable lower bound. Both equal the
paper's global score when every domain is present.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from ._result import BenchmarkResult

__all__ = [
    "DOMAIN_WEIGHTS",
    "REPORTED_NOT_SCORED",
    "SCORE_TABLE",
    "ScoreRow",
    "Scores",
    "normalise",
    "score",
]

#: Weights of the scored domains in the global score (paper §VI, Fig. 2).
DOMAIN_WEIGHTS: dict[str, float] = {
    "materials": 0.25,
    "molecules": 0.25,
    "surfaces": 0.20,
    "molecular_crystals": 0.20,
    "physicality": 0.10,
}

#: Benchmarks that the suite runs and reports but that Table XX does not score.
REPORTED_NOT_SCORED = ("s22", "s26", "s22x5", "dbh24", "equation_of_state", "speed", "in_domain")


@dataclass(frozen=True)
class ScoreRow:
    """One row of the paper's Table XX and the result key it reads.

    Attributes:
        domain: Scored domain (a key of [`DOMAIN_WEIGHTS`][mmh_bench.DOMAIN_WEIGHTS]).
        benchmark: `BenchmarkResult.name` that carries the metric.
        metric: Key in `BenchmarkResult.metrics`.
        label: The row's name in Table XX.
        unit: Unit of the metric.
        direction: ``"L"`` (lower is better) or ``"H"`` (higher is better), as printed.
        best: Best bound ``b`` (normalised score 1).
        worst: Worst bound ``w`` (normalised score 0).
        rationale: The table's rationale for the best bound.
    """

    domain: str
    benchmark: str
    metric: str
    label: str
    unit: str
    direction: str
    best: float
    worst: float
    rationale: str


def _rows() -> tuple[ScoreRow, ...]:
    zero = "Mathematical (zero error)"
    ref = "Reference accuracy (0.5 kcal mol⁻¹)"
    kcal = "kcal/mol"
    # fmt: off
    rows = [
        ("materials", "elastic_moduli", "bulk_mae_gpa", "Elastic moduli (bulk) MAE", "GPa",
         "L", 0.0, 50.0, zero),
        ("materials", "elastic_moduli", "shear_mae_gpa", "Elastic moduli (shear) MAE", "GPa",
         "L", 0.0, 50.0, zero),
        ("materials", "thermal_conductivity", "rmse_w_mk", "Thermal conductivity RMSE",
         "W/(m K)", "L", 0.0, 2.0, zero),
        ("materials", "phonons", "omega_max_mae_k", "Phonon ω_max MAE", "K", "L", 0.0, 50.0,
         zero),
        ("materials", "phonons", "omega_avg_mae_k", "Phonon ω_avg MAE", "K", "L", 0.0, 50.0,
         zero),
        ("materials", "phonons", "omega_min_mae_k", "Phonon ω_min MAE", "K", "L", 0.0, 50.0,
         zero),
        ("materials", "phonons", "bz_mae_k", "Phonon BZ MAE", "K", "L", 0.0, 50.0, zero),
        ("materials", "phonons", "entropy_mae_j_molk", "Entropy MAE", "J/(mol K)", "L", 0.0,
         50.0, zero),
        ("materials", "phonons", "free_energy_mae_kj_mol", "Helmholtz free energy MAE",
         "kJ/mol", "L", 0.0, 50.0, zero),
        ("materials", "phonons", "heat_capacity_mae_j_molk", "Heat capacity C_V MAE",
         "J/(mol K)", "L", 0.0, 50.0, zero),
        ("materials", "phonons", "stability_count", "Phonon stability", "count", "L", 0.0,
         50.0, "Mathematical (zero instabilities)"),
        ("materials", "phonons", "stability_n_count", "Phonon stability n", "count", "L", 0.0,
         50.0, "Mathematical (zero instabilities)"),
        ("molecular_crystals", "x23", "mae_kcal_mol", "X23 formation energy MAE", kcal, "L",
         0.5, 50.0, ref),
        ("molecular_crystals", "ice_polymorphs", "mae_kcal_mol", "Ice polymorphs energy MAE",
         kcal, "L", 0.5, 50.0, ref),
        ("surfaces", "s24", "mae_kcal_mol", "S24 adsorption energy MAE", kcal, "L", 0.5, 50.0,
         ref),
        ("surfaces", "oc20", "mae_ev", "OC20 adsorption MAE", "eV", "L", 0.021, 0.50, ref),
        ("molecules", "wiggle150", "mae_kcal_mol", "Wiggle150 MAE", kcal, "L", 0.5, 50.0, ref),
        ("molecules", "gmtkn55", "basic_small_mae_kcal_mol", "GMTKN55 Basic small MAE", kcal,
         "L", 0.5, 50.0, ref),
        ("molecules", "gmtkn55", "large_systems_mae_kcal_mol", "GMTKN55 Large systems MAE",
         kcal, "L", 0.5, 50.0, ref),
        ("molecules", "gmtkn55", "barrier_heights_mae_kcal_mol", "GMTKN55 Barrier heights MAE",
         kcal, "L", 0.5, 50.0, ref),
        ("molecules", "gmtkn55", "intra_nc_mae_kcal_mol", "GMTKN55 Intra-NC MAE", kcal, "L",
         0.5, 50.0, ref),
        ("molecules", "gmtkn55", "inter_nc_mae_kcal_mol", "GMTKN55 Inter-NC MAE", kcal, "L",
         0.5, 50.0, ref),
        ("molecules", "gmtkn55", "overall_mae_kcal_mol", "GMTKN55 overall MAE", kcal, "L", 0.5,
         50.0, ref),
        ("molecules", "plf547", "mae_kcal_mol", "PLF547 MAE", kcal, "L", 0.5, 50.0, ref),
        ("molecules", "s30l", "mae_kcal_mol", "S30L MAE", kcal, "L", 0.5, 50.0, ref),
        ("physicality", "slab_extensivity", "delta_mev", "Slab extensivity Δ", "meV", "L", 0.0,
         50.0, "Mathematical (extensivity; zero deviation)"),
        ("physicality", "h_additivity", "max_abs_df_mev_per_a", "H-additivity max |ΔF|",
         "meV/Å", "L", 0.0, 50.0, "Mathematical (additivity; zero deviation)"),
        ("physicality", "diatomics", "force_flips", "Diatomic force flips", "count", "L", 1.0,
         10.0, "Mathematical/physical (one sign change)"),
        ("physicality", "diatomics", "energy_minima", "Diatomic energy minima", "count", "L",
         1.0, 10.0, "Mathematical/physical (single minimum)"),
        ("physicality", "diatomics", "inflections", "Diatomic inflections", "count", "L", 2.0,
         10.0, "Mathematical/physical (typical Morse shape)"),
        ("physicality", "diatomics", "spearman_repulsive", "Spearman ρ(E_rep)", "", "H", -1.0,
         -0.5, "Mathematical (perfect anticorrelation)"),
        ("physicality", "diatomics", "spearman_attractive", "Spearman ρ(E_att)", "", "H", 1.0,
         0.0, "Mathematical (perfect correlation)"),
    ]
    # fmt: on
    return tuple(ScoreRow(*row) for row in rows)


#: Table XX of the paper, row by row, with the result key (benchmark, metric) of each row.
#: The metric-key contract: a `BenchmarkResult` named ``benchmark`` with the metric
#: ``metric`` is scored by that row. Note that the table prints direction "H" for
#: ρ(E_rep) although its bounds (best −1.0, worst −0.5) make lower values better; the
#: normalisation uses the bounds, so it rewards ρ(E_rep) → −1 as the paper intends.
SCORE_TABLE: tuple[ScoreRow, ...] = _rows()


def normalise(value: float, best: float, worst: float) -> float:
    """Normalised score ``clip((value - worst) / (best - worst), 0, 1)``; NaN stays NaN.

    Example:
        >>> normalise(25.25, best=0.5, worst=50.0)
        0.5
        >>> normalise(-0.2, best=-1.0, worst=-0.5)  # Spearman ρ(E_rep)
        0.0
    """
    if best == worst:
        raise ValueError(f"normalisation bounds must differ, got best = worst = {best}")
    value = float(value)
    if math.isnan(value):
        return math.nan
    s = (value - worst) / (best - worst)
    return min(1.0, max(0.0, s))


@dataclass
class Scores:
    """The scored view of a set of benchmark results.

    Attributes:
        rows: One entry per row of [`SCORE_TABLE`][mmh_bench.SCORE_TABLE]: the row's fields plus
            ``value`` (the metric, or ``None`` when absent) and ``score`` (normalised, or ``None``).
        domains: Domain → score (mean of its present rows), ``None`` when missing.
        domain_coverage: Domain → ``[rows present, rows in the table]``.
        missing_domains: Scored domains without any result.
        global_score: Weighted mean over the present domains (renormalised weights);
            ``None`` when no domain is present.
        global_lower_bound: ``Σ_present w_d s_d`` (missing domains count as zero).
        weight_coverage: ``Σ_present w_d`` (1.0 when every domain is present).
        complete: Every row of the table is present.
        unscored: Names of results that no row of the table reads.
    """

    rows: list[dict] = field(default_factory=list)
    domains: dict[str, float | None] = field(default_factory=dict)
    domain_coverage: dict[str, list[int]] = field(default_factory=dict)
    missing_domains: list[str] = field(default_factory=list)
    global_score: float | None = None
    global_lower_bound: float = 0.0
    weight_coverage: float = 0.0
    complete: bool = False
    unscored: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)


def score(results: Iterable[BenchmarkResult]) -> Scores:
    """Score benchmark results with Table XX (see the module docstring for the rules).

    Args:
        results: Benchmark results; at most one per name.

    Returns:
        The normalised rows, domain scores and global score.

    Raises:
        ValueError: Two results share a name, or a scored benchmark comes with a domain
            other than its Table XX domain.
    """
    by_name: dict[str, BenchmarkResult] = {}
    for result in results:
        if result.name in by_name:
            raise ValueError(f"two results named {result.name!r}; score one result per name")
        by_name[result.name] = result
    expected = {row.benchmark: row.domain for row in SCORE_TABLE}
    for name, result in by_name.items():
        if name in expected and result.domain != expected[name]:
            raise ValueError(
                f"result {name!r} has domain {result.domain!r}, but Table XX scores it under "
                f"{expected[name]!r}"
            )
    out = Scores(unscored=sorted(set(by_name) - set(expected)))
    per_domain: dict[str, list[float]] = {d: [] for d in DOMAIN_WEIGHTS}
    totals = dict.fromkeys(DOMAIN_WEIGHTS, 0)
    for row in SCORE_TABLE:
        totals[row.domain] += 1
        result = by_name.get(row.benchmark)
        value = None if result is None else result.metrics.get(row.metric)
        if value is not None and math.isnan(float(value)):
            value = None
        s = None if value is None else normalise(value, row.best, row.worst)
        if s is not None:
            per_domain[row.domain].append(s)
        out.rows.append(asdict(row) | {"value": value, "score": s})
    for domain, scores in per_domain.items():
        out.domains[domain] = sum(scores) / len(scores) if scores else None
        out.domain_coverage[domain] = [len(scores), totals[domain]]
    present = [d for d, s in out.domains.items() if s is not None]
    out.missing_domains = [d for d in DOMAIN_WEIGHTS if d not in present]
    out.weight_coverage = round(sum(DOMAIN_WEIGHTS[d] for d in present), 12)
    out.global_lower_bound = sum(DOMAIN_WEIGHTS[d] * out.domains[d] for d in present)
    if present:
        out.global_score = out.global_lower_bound / out.weight_coverage
    out.complete = all(r["score"] is not None for r in out.rows)
    return out
