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
#: Pre-training steps of the grid's models, and of the shorter budget of the L = 2 and
#: pooled comparisons (their cells are in ``results/claims/steps2500``).
PRETRAIN_STEPS, SHORT_STEPS = 8000, 2500

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
    a_error: str | None = None  # the error of side a, where it differs (another head)
    number: str = ""  # the paper's own figure for the claim, and where it is

    def errors(self) -> tuple[str, str]:
        """The error keys of sides a and b."""
        return self.a_error or self.error, self.error


def _is(**fields) -> Select:
    return lambda c: all(c.get(k) == v for k, v in fields.items())


#: The cells of the replay, bridging and control claims: non-linear block, L = 1, the
#: budget's molecules and learning rate.
_NL1 = {
    "block": "nonlinear",
    "max_L": 1,
    "bridging": 0.0,
    "regularize": False,
    "mol_train": 1000,
    "lr": None,
    "pretrain_steps": PRETRAIN_STEPS,
}
_PRE = {"mode": "pretrain", "pretrain_steps": PRETRAIN_STEPS}
#: The single-head controls (trained from scratch; no pre-training behind them).
_CONTROL = {"block": "nonlinear", "max_L": 1, "mol_train": 1000}


#: The paper's figures of the cross-learning claims (mace-mh-1 against mace-omat-1).
CROSS_LEARNING_NUMBERS = {
    "surf": "S24 0.095 vs 0.140 eV, OC20 0.138 vs 0.171 eV (Tabs. VI, VII)",
    "mol": "GMTKN55 11.23 vs 24.90 kcal/mol, Wiggle150 4.80 vs 10.39 (Tabs. VIII, IX); the "
    "single-domain omol model is better on Wiggle150 (0.83 vs 1.30)",
}


def _cross_learning(head: str, lr: float, paper: str) -> Claim:
    """The ``head`` of the replay-0.3 multi-head model against that head trained alone,
    both at learning rate ``lr``."""
    default = lr == FINETUNE_LR  # the fine-tuning's own rate: lr None in its cells
    return Claim(
        f"cross-learning on {'surfaces' if head == 'surf' else 'molecules'} (lr {lr:g})",
        paper,
        _is(mode=f"{head}-only", lr=lr if lr != CONTROL_LR else None, **_CONTROL),
        _is(mode="replay", replay=0.3, **(_NL1 | {"lr": None if default else lr})),
        f"{head} head alone",
        "multi-head",
        f"{head} on {head} test",
        "lower",
        number=CROSS_LEARNING_NUMBERS[head],
    )


def _size_sweep(molecules: int) -> Claim:
    """The mol head with ``molecules`` training molecules: in the multi-head model against
    alone (both at the sweep's learning rate)."""
    return Claim(
        f"cross-functional transfer from little data ({molecules} molecules)",
        "SevenNet-Omni reproduces r²SCAN energetics with 0.5 % r²SCAN data: a head with "
        "little data learns from the shared backbone (data-size sweep of the mol head)",
        _is(
            mode="mol-only",
            lr=None if molecules == 1000 else SWEEP_LR,
            **(_CONTROL | {"mol_train": molecules}),
        ),
        _is(mode="replay", replay=0.3, **(_NL1 | {"mol_train": molecules, "lr": SWEEP_LR})),
        f"mol head alone, {molecules} molecules",
        f"multi-head, {molecules} molecules",
        "mol on mol test",
        "lower",
        number="0.5 % r²SCAN data reproduce r²SCAN energetics (abstract; no error given)",
    )


def _pooled(dataset: str) -> Claim:
    """One head on all data pooled against the head of ``dataset`` in the multi-head
    model, at the shorter budget: pre-training of ``SHORT_STEPS`` and 600 fine-tuning
    steps, against a pooled head trained for as many steps."""
    return Claim(
        f"multi-head vs pooled single head ({dataset}; {SHORT_STEPS} + 600 steps)",
        "one head per level of theory, rather than one head on data of mixed levels, is "
        "what lets one model learn datasets at different levels (Sec. III)",
        _is(mode="pooled", block="nonlinear", max_L=1, pretrain_steps=SHORT_STEPS),
        _is(mode="replay", replay=0.3, **(_NL1 | {"pretrain_steps": SHORT_STEPS})),
        "pooled single head",
        "multi-head",
        f"{dataset} on {dataset} test",
        "lower",
        a_error=f"pooled on {dataset} test",
        number="no figure: the paper has no pooled baseline (Secs. II.A, III)",
    )


#: Learning rates: the fine-tuning's (the replay cells), the controls' own (that of the
#: pre-training), and that of the data-size sweep (both sides at the controls' rate).
FINETUNE_LR, CONTROL_LR = 0.002, 0.01
SWEEP_LR = CONTROL_LR

CLAIMS = [
    Claim(
        "non-linear vs linear block",
        "mace-omat-1 (non-linear block) improves on mace-omat-0 (linear) in molecules and "
        "surfaces with stable materials (Fig. 2c; part of it from L = 1 → 2)",
        _is(block="linear", max_L=1, **_PRE),
        _is(block="nonlinear", max_L=1, **_PRE),
        "linear L=1",
        "non-linear L=1",
        "bulk on bulk test",
        "lower",
        number="global score 0.636 → 0.786 (omat-0 → omat-1, Fig. 2b); OC20 adsorption "
        "0.243 → 0.171 eV (Tab. VII); L and channels (128 → 512) change too",
    ),
    Claim(
        f"L=2 vs L=1 ({SHORT_STEPS} steps)",
        "L = 2 messages are part of the gain from mace-omat-0 to mace-omat-1 (Sec. VII)",
        _is(mode="pretrain", block="nonlinear", max_L=1, pretrain_steps=SHORT_STEPS),
        _is(mode="pretrain", block="nonlinear", max_L=2, pretrain_steps=SHORT_STEPS),
        "non-linear L=1",
        "non-linear L=2",
        "bulk on bulk test",
        "lower",
        number="no isolated figure: L = 2 comes with the block and 128 → 512 channels "
        "(Sec. VI, Tab. XVII)",
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
        number="no figure: the paper has no no-replay baseline (Sec. III)",
    ),
    Claim(
        "materials stay within noise",
        "mace-mh-1 keeps the materials accuracy of its OMAT backbone (Tables I–III)",
        _is(block="nonlinear", max_L=1, **_PRE),
        _is(mode="replay", replay=0.3, **_NL1),
        "pre-trained",
        "replay 0.3",
        "bulk on bulk test",
        "same",
        number="B / G MAE 12.49 / 7.95 GPa (mh-1) vs 11.50 / 8.09 (omat-1) (Tab. I); "
        "κ RMSE 0.24 vs 0.20 W/mK; no error bars",
    ),
    Claim(
        "materials within noise of a bulk-only continuation",
        "as above, against the pre-training continued on bulk alone for the fine-tuning "
        "steps (the same number of steps in all)",
        _is(mode="continue", block="nonlinear", max_L=1, pretrain_steps=PRETRAIN_STEPS),
        _is(mode="replay", replay=0.3, **_NL1),
        "bulk-only continuation",
        "replay 0.3",
        "bulk on bulk test",
        "same",
        number="as above",
    ),
    _cross_learning(
        "surf",
        FINETUNE_LR,
        "training molecules and materials together improves surfaces (Sec. X)",
    ),
    _cross_learning("surf", CONTROL_LR, "as above, both sides at the controls' rate"),
    _cross_learning(
        "mol",
        FINETUNE_LR,
        "the multi-head model describes molecules better than single-domain models (Sec. XI)",
    ),
    _cross_learning("mol", CONTROL_LR, "as above, both sides at the controls' rate"),
    _pooled("bulk"),
    _pooled("surf"),
    _pooled("mol"),
    Claim(
        "domain-bridging sets",
        "SevenNet-Omni: a small domain-bridging set aligns the heads and improves transfer",
        _is(mode="replay", replay=0.3, **_NL1),
        _is(mode="replay", replay=0.3, **(_NL1 | {"bridging": 0.05})),
        "replay 0.3",
        "replay 0.3 + 5 % DBS",
        "mol on mol test",
        "lower",
        number="0.1 % DBS improves out-of-distribution accuracy and keeps in-domain "
        "accuracy (abstract; no effect size)",
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
        number='no figure (abstract: "synergistic" with the DBS)',
    ),
    *(_size_sweep(n) for n in (50, 250, 1000)),
]


def load_cells(directory: Path = CELLS) -> list[Cell]:
    """The cell JSONs of a directory and its subdirectories, with the budget's
    ``mol_train`` (where the cell has none) and ``pretrain_steps`` copied to the top."""
    cells = []
    for path in sorted(Path(directory).rglob("*.json")):
        cell = json.loads(path.read_text())
        budget = cell.get("budget", {})
        if cell.get("mol_train") is None:
            cell["mol_train"] = budget.get("mol_train")
        cell["pretrain_steps"] = budget.get("pretrain_steps")
        cells.append(cell)
    return cells


def _stats(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
    return mean, std


def evaluate(claim: Claim, cells: list[Cell]) -> dict:
    """The row of one claim (see the module docstring)."""

    def side(select: Select, error: str) -> dict[int, dict]:
        chosen = [c for c in cells if select(c) and error in c.get("errors", {})]
        seeds = [c["seed"] for c in chosen]
        if len(set(seeds)) != len(seeds):
            names = sorted(c["cell"] for c in chosen)
            raise ValueError(f"claim {claim.name!r}: several cells of one seed: {names}")
        return {c["seed"]: c["errors"][error] for c in chosen}

    a_error, b_error = claim.errors()
    a, b = side(claim.a, a_error), side(claim.b, b_error)
    error = claim.error if a_error == b_error else f"{a_error} / {b_error}"
    row: dict = {"claim": claim.name, "paper": claim.paper, "error": error}
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
        "| claim | paper | paper's figure | error on | a | b | effect (meV/Å) | verdict |",
        "|---|---|---|---|---|---|---|---|",
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
            f"| {r['claim']} | {r['paper']} | {r['number'] or '–'} | {r['error']} "
            f"| {sides[0]} | {sides[1]} "
            f"| {effect} | {r['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def _group(cell: Cell) -> str:
    """A cell's name without its seed."""
    return cell["cell"].rsplit("-s", 1)[0]


def _mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    mean, std = _stats(values)
    return f"{_fmt(mean)} ± {_fmt(std)}"


def pretraining_lines(cells: list[Cell]) -> list[str]:
    """The convergence of every pre-training: steps, best step, the plateau criterion and
    the in-distribution bulk test error."""
    lines = [
        "## Pre-training",
        "",
        "Every pre-trained model: the step of the best validation loss, the change of the",
        "best validation force MAE over the last quarter of the run (plateau: under 5 %),",
        "and the force MAE (meV/Å) and skill on the in-distribution `bulk` test split.",
        "",
        "| model | steps | best step | last-quarter change | plateau | bulk test F MAE | skill "
        "| CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in sorted(
        (c for c in cells if c["mode"] in ("pretrain", "continue")), key=lambda c: c["cell"]
    ):
        t, e = c["training"], c["errors"]["bulk on bulk test"]
        p = t["plateau"]["bulk"]
        change = "–" if p["change"] is None else f"{100 * p['change']:.1f} %"
        cpu = "–" if t.get("cpu_s") is None else f"{t['cpu_s']:.0f}"
        lines.append(
            f"| {c['cell']} | {t['steps']} | {t['best_step']} | {change} "
            f"| {'yes' if p['reached'] else 'no'} | {e['forces_mae']:.1f} "
            f"| {e['forces_skill']:.3f} | {cpu} |"
        )
    return lines


#: The columns of the relative-energy table: (key in a cell's ``relative``, part, metric,
#: skill metric).
RELATIVE_COLUMNS = (
    ("interaction test", None, "mae", "skill"),
    ("interaction ood", None, "mae", "skill"),
    ("adsorption", "id", "centred_mae", "centred_skill"),
    ("adsorption", "ood", "centred_mae", "centred_skill"),
    ("adsorption", "all", "mae", None),
)


def relative_lines(cells: list[Cell]) -> list[str]:
    """Relative energies (see ``experiments/relative.py``) per kind of cell, mean ± standard
    deviation over seeds with the mean skill."""
    groups: dict[str, list[Cell]] = {}
    for c in cells:
        if c.get("relative"):
            groups.setdefault(_group(c), []).append(c)
    lines = [
        "## Relative energies",
        "",
        "MAEs in meV of dimer interaction energies (`mol` dimers of the `test` and `ood`",
        "splits; baseline: no interaction) and of adsorption energies on the adsorption set",
        "(centred per adsorbate, which removes the gas references; baseline: each",
        "adsorbate's mean; `id` systems are `surf` training families), by the head that",
        "models `mol` or `surf`; skill in brackets. The last column is the full adsorption",
        "energy, gas references from the same head.",
        "",
        "| cells | seeds | interaction, test | interaction, ood | adsorption (centred), id "
        "| adsorption (centred), ood | adsorption, full |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, group in sorted(groups.items()):
        row = [name, str(len(group))]
        for key, part, metric, skill in RELATIVE_COLUMNS:
            values, skills = [], []
            for c in group:
                entry = next((v for k, v in c["relative"].items() if k.endswith(key)), None)
                if entry is None:
                    continue
                entry = entry[part] if part else entry
                values.append(entry[metric])
                if skill:
                    skills.append(entry[skill])
            text = _mean_std(values)
            if skills:
                text += f" [{_fmt(_stats(skills)[0], 2)}]"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def page(cells: list[Cell]) -> str:
    """The whole page: the claims table, the pre-trainings and the relative energies."""
    extra = [
        "",
        "![effects](img/claims-effects.png)",
        "",
        *pretraining_lines(cells),
        "",
        "![pre-training curves](img/claims-pretraining.png)",
        "",
        *relative_lines(cells),
    ]
    return render(table(cells)) + "\n".join(extra) + "\n"


def table(cells: list[Cell]) -> list[dict]:
    """Every claim's row."""
    rows = []
    for claim in CLAIMS:
        row = evaluate(claim, cells)
        row.update(a_label=claim.a_label, b_label=claim.b_label, number=claim.number)
        rows.append(row)
    return rows


def plot(rows: list[dict], cells: list[Cell], out_dir: Path) -> list[Path]:
    """Two figures: each claim's paired effect with twice its spread (the verdict's
    threshold), and the validation force curves of the pre-trainings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    shown = [r for r in rows if r["effect"] is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(shown) + 1.2))
    for k, r in enumerate(shown):
        colour = {"reproduced": "tab:green", "refuted": "tab:red"}.get(r["verdict"], "grey")
        ax.errorbar(r["effect"], k, xerr=2 * (r["spread"] or 0), fmt="o", color=colour, capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(shown)), [r["claim"] for r in shown], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("paired effect b − a (meV/Å; ± 2 × spread over seeds)")
    ax.set_title("claims: green reproduced, red refuted, grey inconclusive", fontsize=9)
    fig.tight_layout()
    effects = out_dir / "claims-effects.png"
    fig.savefig(effects, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4))
    colours = {"linear": "tab:blue", "nonlinear": "tab:orange"}
    for c in sorted(cells, key=lambda c: c["cell"]):
        if c["mode"] != "pretrain" or c.get("pretrain_steps") != PRETRAIN_STEPS:
            continue
        curve = c["training"]["curves"]["bulk"]
        label = c["block"] if c["seed"] == 0 else None
        ax.plot(curve["step"], curve["forces_mae"], color=colours[c["block"]], lw=1, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("bulk valid force MAE (meV/Å)")
    ax.set_ylim(top=200)
    ax.legend(title="block (3 seeds each)")
    fig.tight_layout()
    curves = out_dir / "claims-pretraining.png"
    fig.savefig(curves, dpi=110)
    plt.close(fig)
    return [effects, curves]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=Path, default=CELLS)
    parser.add_argument("--out", type=Path, default=PAGE)
    parser.add_argument("--check", action="store_true", help="fail if the page is stale")
    parser.add_argument("--no-plots", dest="plots", action="store_false")
    args = parser.parse_args()
    cells = load_cells(args.cells)
    text = page(cells)
    if args.check:
        if not args.out.exists() or args.out.read_text() != text:
            raise SystemExit(f"{args.out} is not what the cell JSONs give; regenerate it")
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    if args.plots:
        for path in plot(table(cells), cells, args.out.parent / "img"):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
