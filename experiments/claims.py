"""The claims table: one row per claim of the paper (and of SevenNet-Omni) that the grid on
the bundled data can test, computed from the committed cell JSONs only.

Each row compares two sets of cells (``a``, the claim's reference, against ``b``) on one
error, pairing cells by seed where both sides have the seed. It gives the paper's
statement, our mean ± standard deviation over seeds of each side (with the force skill),
the effect (mean paired difference ``b − a``, negative = ``b`` better), its spread (the
standard deviation of the paired differences over seeds) and a verdict:

- ``inconclusive``: fewer than 3 seeds on either side, or ``|effect| < 2 × spread``;
- ``reproduced``: the effect has the sign the paper claims (or, for a "no loss" claim,
  ``b`` is no worse than ``a`` by more than 2 × spread, with at least 3 seeds);
- ``refuted``: the effect is beyond 2 × spread the other way.

Usage::

    uv run python experiments/claims.py              # writes docs/results/claims.md
    uv run python experiments/claims.py --check      # fails if the page is out of date
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CELLS = HERE / "results" / "claims"
PAGE = HERE.parent / "docs" / "results" / "claims.md"
MIN_SEEDS = 3

Cell = dict
Select = Callable[[Cell], bool]


@dataclass(frozen=True)
class Claim:
    """One row: ``b`` against ``a`` on ``error`` (a key of a cell's ``errors``)."""

    name: str
    paper: str
    a: Select
    b: Select
    a_label: str
    b_label: str
    error: str
    expect: str  # "lower": b's error is lower; "same": b no worse than a
    metric: str = "forces_mae"


def _is(**fields) -> Select:
    return lambda c: all(c.get(k) == v for k, v in fields.items())


#: The cells of the replay, bridging and control claims: non-linear block, L = 1.
_NL1 = {"block": "nonlinear", "max_L": 1, "bridging": 0.0, "regularize": False}

CLAIMS = [
    Claim(
        "non-linear vs linear block",
        "mace-omat-1 (non-linear block) improves on mace-omat-0 (linear) in molecules and "
        "surfaces with stable materials (Fig. 2c; part of it from L = 1 → 2)",
        _is(mode="pretrain", block="linear", max_L=1),
        _is(mode="pretrain", block="nonlinear", max_L=1),
        "linear L=1",
        "non-linear L=1",
        "bulk on bulk test",
        "lower",
    ),
    Claim(
        "L=2 vs L=1",
        "L = 2 messages are part of the gain from mace-omat-0 to mace-omat-1 (Sec. VII)",
        _is(mode="pretrain", block="nonlinear", max_L=1),
        _is(mode="pretrain", block="nonlinear", max_L=2),
        "non-linear L=1",
        "non-linear L=2",
        "bulk on bulk test",
        "lower",
    ),
    Claim(
        "replay prevents forgetting",
        "multi-head replay fine-tuning retains bulk accuracy; without replay the base "
        "representation drifts (catastrophic forgetting, Sec. III)",
        _is(mode="replay", replay=0.0, **_NL1),
        _is(mode="replay", replay=0.3, **_NL1),
        "no replay",
        "replay 0.3",
        "bulk on bulk test",
        "lower",
    ),
    Claim(
        "materials stay within noise",
        "mace-mh-1 keeps the materials accuracy of its OMAT backbone (Tables I–III)",
        _is(mode="pretrain", block="nonlinear", max_L=1),
        _is(mode="replay", replay=0.3, **_NL1),
        "pre-trained",
        "replay 0.3",
        "bulk on bulk test",
        "same",
    ),
    Claim(
        "cross-learning on surfaces",
        "training molecules and materials together improves surfaces (Sec. X)",
        _is(mode="surf-only", block="nonlinear", max_L=1),
        _is(mode="replay", replay=0.3, **_NL1),
        "surf head alone",
        "multi-head",
        "surf on surf test",
        "lower",
    ),
    Claim(
        "cross-learning on molecules",
        "the multi-head model describes molecules better than single-domain models (Sec. XI)",
        _is(mode="mol-only", block="nonlinear", max_L=1),
        _is(mode="replay", replay=0.3, **_NL1),
        "mol head alone",
        "multi-head",
        "mol on mol test",
        "lower",
    ),
    Claim(
        "domain-bridging sets",
        "SevenNet-Omni: a small domain-bridging set aligns the heads and improves transfer",
        _is(mode="replay", replay=0.3, **_NL1),
        _is(mode="replay", replay=0.3, **(_NL1 | {"bridging": 0.05})),
        "replay 0.3",
        "replay 0.3 + 5 % DBS",
        "mol on mol test",
        "lower",
    ),
    Claim(
        "selective regularisation",
        "SevenNet-Omni: regularising the readouts towards the base readout helps transfer",
        _is(mode="replay", replay=0.3, **_NL1),
        _is(mode="replay", replay=0.3, **(_NL1 | {"regularize": True})),
        "replay 0.3",
        "replay 0.3 + regularisation",
        "mol on mol test",
        "lower",
    ),
    Claim(
        "cross-functional transfer from little data",
        "SevenNet-Omni reproduces r²SCAN energetics with 0.5 % r²SCAN data: a head with "
        "little data learns from the shared backbone (data-size sweep of the mol head)",
        _is(mode="mol-only", block="nonlinear", max_L=1, mol_train=250),
        _is(mode="replay", replay=0.3, mol_train=250, **_NL1),
        "mol head alone, 250 molecules",
        "multi-head, 250 molecules",
        "mol on mol test",
        "lower",
    ),
]


def load_cells(directory: Path = CELLS) -> list[Cell]:
    """The cell JSONs of a directory, with the budget's ``mol_train`` copied to the top."""
    cells = []
    for path in sorted(Path(directory).glob("*.json")):
        cell = json.loads(path.read_text())
        cell.setdefault("mol_train", cell.get("budget", {}).get("mol_train"))
        cells.append(cell)
    return cells


def _stats(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
    return mean, std


def evaluate(claim: Claim, cells: list[Cell]) -> dict:
    """The row of one claim (see the module docstring)."""

    def side(select: Select) -> dict[int, dict]:
        return {
            c["seed"]: c["errors"][claim.error]
            for c in cells
            if select(c) and claim.error in c.get("errors", {})
        }

    a, b = side(claim.a), side(claim.b)
    row: dict = {"claim": claim.name, "paper": claim.paper, "error": claim.error}
    for key, data in (("a", a), ("b", b)):
        values = [m[claim.metric] for m in data.values()]
        skills = [m["forces_skill"] for m in data.values() if "forces_skill" in m]
        row[key] = {
            "seeds": sorted(data),
            "mean": _stats(values)[0] if values else None,
            "std": _stats(values)[1] if values else None,
            "skill": _stats(skills)[0] if skills else None,
        }
    paired = sorted(set(a) & set(b))
    if paired:
        diffs = [b[s][claim.metric] - a[s][claim.metric] for s in paired]
        effect, spread = _stats(diffs)
    else:
        effect = spread = None
    row.update(effect=effect, spread=spread, paired_seeds=paired)
    if len(paired) < MIN_SEEDS:
        row["verdict"] = f"inconclusive ({len(paired)} paired seeds)"
    elif claim.expect == "same":
        row["verdict"] = "reproduced" if effect <= 2 * spread else "refuted"
    elif abs(effect) < 2 * spread:
        row["verdict"] = "inconclusive (within 2 × spread)"
    else:
        row["verdict"] = "reproduced" if effect < 0 else "refuted"
    return row


def _fmt(value: float | None, digits: int = 0) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def render(rows: list[dict]) -> str:
    """The Markdown page of the claims table."""
    lines = [
        "# Claims table",
        "",
        "Generated by `uv run python experiments/claims.py` from the cell JSONs in",
        "`experiments/results/claims/` (written by `experiments/grid.py`); do not edit by hand.",
        "Errors are force MAEs (meV/Å) on the named split, mean ± standard deviation over",
        "seeds, with the mean force skill (1 − MAE / MAE of zero force) in brackets. The",
        "effect is the mean paired difference over seeds (b − a; negative: b is better) ± the",
        "standard deviation of those differences. A verdict needs at least 3 paired seeds.",
        "",
        "| claim | paper | error on | a | b | effect (meV/Å) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sides = []
        for key in ("a", "b"):
            s = r[key]
            sides.append(
                f"{r[key + '_label']}: {_fmt(s['mean'])} ± {_fmt(s['std'])} "
                f"[{_fmt(s['skill'], 2)}], {len(s['seeds'])} seeds"
            )
        effect = f"{_fmt(r['effect'], 1)} ± {_fmt(r['spread'], 1)}"
        lines.append(
            f"| {r['claim']} | {r['paper']} | {r['error']} | {sides[0]} | {sides[1]} "
            f"| {effect} | {r['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def table(cells: list[Cell]) -> list[dict]:
    """Every claim's row."""
    rows = []
    for claim in CLAIMS:
        row = evaluate(claim, cells)
        row.update(a_label=claim.a_label, b_label=claim.b_label)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=Path, default=CELLS)
    parser.add_argument("--out", type=Path, default=PAGE)
    parser.add_argument("--check", action="store_true", help="fail if the page is stale")
    args = parser.parse_args()
    page = render(table(load_cells(args.cells)))
    if args.check:
        if not args.out.exists() or args.out.read_text() != page:
            raise SystemExit(f"{args.out} is not what the cell JSONs give; regenerate it")
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
