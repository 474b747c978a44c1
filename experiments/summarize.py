"""Turn the grid's cell JSONs into the results page's tables and plots.

Reads every ``*.json`` of ``--results`` (written by ``grid.py``) and writes ``grid.md``
(tables) and PNG plots to ``--out``. Nothing in the output is edited by hand: rerun this
script after the grid changes.

Usage::

    uv run python experiments/summarize.py    # experiments/results/grid -> docs/results
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
TEST_SETS = ("bulk", "surf", "mol", "mol-base")


def load_cells(directory: Path) -> list[dict]:
    """Every cell JSON of a directory, sorted by model, mode and seed."""
    cells = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
    if not cells:
        raise SystemExit(f"no cell JSONs in {directory}")
    return sorted(cells, key=lambda c: (model_key(c), mode_order(c), c["seed"]))


def model_key(cell: dict) -> str:
    return f"{cell['block']}-L{cell['max_L']}"


def mode_order(cell: dict) -> tuple:
    order = {"pretrain": -2.0, "naive": -1.0}.get(cell["mode"], cell["replay"])
    return order, cell.get("bridging", 0.0), cell.get("regularize", False)


def is_bridging(cell: dict) -> bool:
    """A cell of the bridging experiment (DBS and/or selective regularisation)."""
    return bool(cell.get("bridging") or cell.get("regularize"))


def mode_label(cell: dict) -> str:
    if cell["mode"] == "replay":
        label = "no replay" if cell["replay"] == 0 else f"replay {cell['replay']:g}"
        if cell.get("bridging"):
            label += f" + DBS {cell['bridging']:.1%}"
        if cell.get("regularize"):
            label += " + reg"
        return label
    return "pre-trained" if cell["mode"] == "pretrain" else "naive (mol)"


def base_error(cell: dict, dataset: str, split: str, key: str) -> float:
    """An error of the cell's base head (naive: its one head) on a bundled split."""
    return cell["errors"][f"{cell['base_head']} on {dataset} {split}"][key]


def spread(values: Sequence[float], digits: int = 1) -> str:
    """Mean, and ± half the range over seeds when there are several."""
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(max(values) - min(values)) / 2:.{digits}f}"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return [*lines, ""]


def group(cells: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Cells by (model, mode label), over seeds."""
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for c in cells:
        out[(model_key(c), mode_label(c))].append(c)
    return out


def pretrained_of(cells: list[dict]) -> dict[str, dict]:
    return {c["cell"]: c for c in cells if c["mode"] == "pretrain"}


def ratio_to_pretrained(cell: dict, pre: dict[str, dict], dataset: str, split: str, key: str):
    parent = pre.get(cell["pretrained"] or cell["cell"])
    if parent is None:
        return None
    return base_error(cell, dataset, split, key) / base_error(parent, dataset, split, key)


def main_table(cells: list[dict]) -> list[str]:
    header = [
        "model",
        "run",
        "seeds",
        "steps",
        "bulk train E / F",
        "bulk test E / F",
        "mol-base E / F",
        "surf test E / F",
        "mol test E / F",
        "physicality",
    ]
    rows = []
    for (model, label), group_cells in group(cells).items():

        def pair(head, dataset, split, gc=group_cells):
            key = f"{head} on {dataset} {split}"
            if key not in gc[0]["errors"]:
                return "—"
            e = [c["errors"][key]["energy_mae"] for c in gc]
            f = [c["errors"][key]["forces_mae"] for c in gc]
            return f"{spread(e)} / {spread(f)}"

        base = group_cells[0]["base_head"]
        rows.append(
            [
                model,
                label,
                ",".join(str(c["seed"]) for c in group_cells),
                spread([c["training"]["steps"] for c in group_cells], 0),
                pair(base, "bulk", "train"),
                pair(base, "bulk", "test"),
                pair(base, "mol-base", "test"),
                pair("surf", "surf", "test"),
                pair("mol", "mol", "test"),
                spread([c["physicality"]["score"] for c in group_cells], 2)
                if all(c["physicality"]["score"] is not None for c in group_cells)
                else "—",
            ]
        )
    return table(header, rows)


def ratios(cells: list[dict], dataset: str, split: str, key: str) -> dict[tuple[str, str], list]:
    pre = pretrained_of(cells)
    return {
        k: [ratio_to_pretrained(c, pre, dataset, split, key) for c in gc]
        for k, gc in group(cells).items()
        if gc[0]["mode"] != "pretrain"
    }


def ratio_lines(cells: list[dict]) -> list[str]:
    """The same ratios as a table with two decimals (mean ± half-range over seeds)."""
    header = ["model", "run", "seeds"] + [
        f"{d} {s} {k[0].upper()}"
        for d, s in (("bulk", "train"), ("bulk", "test"), ("mol-base", "test"))
        for k in ("energy", "forces")
    ]
    blocks = {
        (d, s, k): ratios(cells, d, s, k)
        for d, s in (("bulk", "train"), ("bulk", "test"), ("mol-base", "test"))
        for k in ("energy_mae", "forces_mae")
    }
    rows = []
    for (model, label), gc in group(cells).items():
        if gc[0]["mode"] == "pretrain":
            continue
        row = [model, label, ",".join(str(c["seed"]) for c in gc)]
        for values in blocks.values():
            r = values[(model, label)]
            mean = statistics.fmean(r)
            half = (max(r) - min(r)) / 2
            row.append(f"{mean:.2f}" if len(r) == 1 else f"{mean:.2f} ± {half:.2f}")
        rows.append(row)
    return table(header, rows)


def cross_table(cells: list[dict]) -> list[str]:
    """Every head of every seed-0 fine-tuned model on every test split (E / F MAE)."""
    header = ["model", "run", "head"] + [f"{d} test" for d in TEST_SETS]
    rows = []
    for c in cells:
        if c["seed"] != 0:
            continue
        for head in c["heads"]:
            row = [model_key(c), mode_label(c), head]
            for d in TEST_SETS:
                m = c["errors"].get(f"{head} on {d} test")
                row.append("—" if m is None else f"{m['energy_mae']:.0f} / {m['forces_mae']:.0f}")
            rows.append(row)
    return table(header, rows)


def pretrain_table(cells: list[dict]) -> list[str]:
    """Pre-trained models at matched wall time: steps reached and bulk errors."""
    header = ["block", "max_L", "seeds", "steps in budget", "bulk train F", "bulk test F"]
    header += ["bulk train E", "bulk test E", "mol-base F", "physicality"]
    rows = []
    for gc in group([c for c in cells if c["mode"] == "pretrain"]).values():
        rows.append(
            [
                gc[0]["block"],
                gc[0]["max_L"],
                ",".join(str(c["seed"]) for c in gc),
                spread([c["training"]["steps"] for c in gc], 0),
                spread([base_error(c, "bulk", "train", "forces_mae") for c in gc]),
                spread([base_error(c, "bulk", "test", "forces_mae") for c in gc]),
                spread([base_error(c, "bulk", "train", "energy_mae") for c in gc]),
                spread([base_error(c, "bulk", "test", "energy_mae") for c in gc]),
                spread([base_error(c, "mol-base", "test", "forces_mae") for c in gc]),
                spread([c["physicality"]["score"] for c in gc], 2),
            ]
        )
    return table(header, rows)


def _series(cells: list[dict], dataset: str, split: str, key: str):
    """Per model: replay fractions → (mean, half-range) of the base head's error."""
    out: dict[str, dict] = defaultdict(dict)
    for (model, _), gc in group(cells).items():
        if gc[0]["mode"] != "replay" or is_bridging(gc[0]):
            continue
        v = [base_error(c, dataset, split, key) for c in gc]
        out[model][gc[0]["replay"]] = (statistics.fmean(v), (max(v) - min(v)) / 2)
    return out


def _reference(cells: list[dict], mode: str, dataset: str, split: str, key: str):
    out = {}
    for (model, _), gc in group(cells).items():
        if gc[0]["mode"] == mode:
            out[model] = statistics.fmean(base_error(c, dataset, split, key) for c in gc)
    return out


def plot_against_replay(cells: list[dict], dataset: str, split: str, title: str, path: Path):
    """Base head error against replay fraction; pre-trained (dashed) and naive (cross)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, unit in zip(
        axes, ("energy_mae", "forces_mae"), ("meV/atom", "meV/Å"), strict=True
    ):
        series = _series(cells, dataset, split, key)
        pre = _reference(cells, "pretrain", dataset, split, key)
        naive = _reference(cells, "naive", dataset, split, key)
        for k, (model, points) in enumerate(sorted(series.items())):
            color = f"C{k}"
            xs = sorted(points)
            ax.errorbar(
                xs,
                [points[x][0] for x in xs],
                yerr=[points[x][1] for x in xs],
                marker="o",
                color=color,
                label=model,
                capsize=3,
            )
            if model in pre:
                ax.axhline(pre[model], color=color, ls="--", lw=1)
            if model in naive:
                ax.plot([-0.05], [naive[model]], marker="x", ms=9, color=color)
        ax.set_xlabel("replay fraction of every batch (× at −0.05: naive)")
        ax.set_ylabel(f"{key.split('_')[0]} MAE ({unit})")
        ax.set_xlim(-0.1, 0.55)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title} (dashed: pre-trained model)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_trajectory(cells: list[dict], path: Path):
    """Paper Fig. 2c: in-domain against cross-domain force error, pre-trained → fine-tuned."""
    pre = pretrained_of(cells)
    fig, ax = plt.subplots(figsize=(6, 5))
    markers = {"no replay": "s", "naive (mol)": "x"}
    models = sorted({model_key(c) for c in cells})
    for c in cells:
        if c["mode"] == "pretrain" or c["seed"] != 0:
            continue
        parent = pre[c["pretrained"]]
        color = f"C{models.index(model_key(c))}"
        x0 = base_error(parent, "bulk", "train", "forces_mae")
        y0 = base_error(parent, "mol-base", "test", "forces_mae")
        x1 = base_error(c, "bulk", "train", "forces_mae")
        y1 = base_error(c, "mol-base", "test", "forces_mae")
        ax.annotate(
            "", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": color}
        )
        label = mode_label(c)
        ax.plot(x1, y1, marker=markers.get(label, "o"), color=color, ls="")
        ax.annotate(
            label.replace("replay ", "r"),
            (x1, y1),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    for k, model in enumerate(models):
        parents = [p for p in pre.values() if model_key(p) == model and p["seed"] == 0]
        for p in parents:
            ax.plot(
                base_error(p, "bulk", "train", "forces_mae"),
                base_error(p, "mol-base", "test", "forces_mae"),
                marker="*",
                ms=12,
                color=f"C{k}",
                ls="",
                label=f"{model} pre-trained",
            )
    ax.set_xlabel("base head: bulk train force MAE (meV/Å), in-domain")
    ax.set_ylabel("base head: mol-base force MAE (meV/Å), cross-domain")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.set_title("pre-trained (★) → fine-tuned, seed 0")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heads(cells: list[dict], path: Path):
    """Per-head test force and energy errors of every seed-0 fine-tuned cell."""
    rows = [c for c in cells if c["seed"] == 0 and c["mode"] != "pretrain"]
    pairs = (("bulk", "bulk"), ("surf", "surf"), ("mol", "mol"), ("bulk", "mol-base"))
    fig, axes = plt.subplots(2, 1, figsize=(max(8, len(rows) * 0.6), 7), sharex=True)
    width = 0.8 / len(pairs)
    for ax, key, unit in zip(
        axes, ("energy_mae", "forces_mae"), ("meV/atom", "meV/Å"), strict=True
    ):
        for k, (head, dataset) in enumerate(pairs):
            values = []
            for c in rows:
                h = c["base_head"] if head == "bulk" else head
                m = c["errors"].get(f"{h} on {dataset} test")
                values.append(float("nan") if m is None else m[key])
            xs = [i + (k - 1.5) * width for i in range(len(rows))]
            ax.bar(xs, values, width, label=f"{head} head on {dataset} test")
        ax.set_ylabel(f"{key.split('_')[0]} MAE ({unit})")
        ax.set_yscale("log")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].set_xticks(range(len(rows)))
    axes[1].set_xticklabels(
        [f"{model_key(c)}\n{mode_label(c)}" for c in rows], rotation=60, fontsize=7, ha="right"
    )
    fig.suptitle("test errors per head, seed 0 (naive: its one head stands for bulk)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_bridging(cells: list[dict], path: Path):
    """Base head on mol-base and new heads in-domain against DBS fraction, reg off/on."""
    rows = [c for c in cells if c["mode"] == "replay"]
    panels = (
        ("base head on mol-base", lambda c: base_error(c, "mol-base", "test", "forces_mae")),
        ("base head on mol-base", lambda c: base_error(c, "mol-base", "test", "energy_mae")),
        ("mol head on mol", lambda c: c["errors"]["mol on mol test"]["forces_mae"]),
        ("surf head on surf", lambda c: c["errors"]["surf on surf test"]["forces_mae"]),
    )
    units = ("F MAE (meV/Å)", "E MAE (meV/atom)", "F MAE (meV/Å)", "F MAE (meV/Å)")
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    for ax, (title, value), unit in zip(axes, panels, units, strict=True):
        for reg, color in ((False, "C0"), (True, "C1")):
            by_f: dict[float, list[float]] = defaultdict(list)
            for c in rows:
                if bool(c.get("regularize")) == reg:
                    by_f[c.get("bridging", 0.0)].append(value(c))
            xs = sorted(by_f)
            ax.errorbar(
                [100 * x for x in xs],
                [statistics.fmean(by_f[x]) for x in xs],
                yerr=[(max(by_f[x]) - min(by_f[x])) / 2 for x in xs],
                marker="o",
                capsize=3,
                color=color,
                label="regularised" if reg else "not regularised",
            )
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_xlabel("DBS fraction (% of the fine-tuning data)")
        ax.set_ylabel(unit)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine(cells: list[dict]) -> list[str]:
    b = cells[0]["budget"]
    wall = sum(c["training"]["wall_s"] for c in cells) / 60
    return [
        f"- {len(cells)} cells; seeds {', '.join(sorted({str(c['seed']) for c in cells}))}.",
        f"- Budget of every cell: pre-training {b['pretrain_minutes']:g} min of wall time, "
        f"fine-tuning {b['finetune_steps']} steps at lr {b['finetune_lr']:g}, replay buffer "
        f"{b['replay_pool_fraction']:.0%} of the `bulk` training crystals (farthest-point), "
        f"`mol` heads on {b['mol_train']} molecules; errors on at most {b['eval_frames']} "
        f"frames per split.",
        f"- Training wall time of all cells together: {wall:.0f} min.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=HERE / "results" / "grid")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "results")
    args = parser.parse_args()
    cells = load_cells(args.results)
    args.out.mkdir(parents=True, exist_ok=True)
    if any(is_bridging(c) for c in cells):
        plot_bridging(cells, args.out / "bridging.png")
        plots = ["![DBS and regularisation](bridging.png)", ""]
    else:
        plots = replay_plots(cells, args.out)
    lines = [
        "<!-- generated by experiments/summarize.py from the cell JSONs; do not edit -->",
        "",
        "## Tables",
        "",
        *machine(cells),
        "### Pre-trained models (matched wall time)",
        "",
        "Force MAE in meV/Å, energy MAE in meV/atom; mean ± half the range over seeds.",
        "",
        *pretrain_table(cells),
        "### Every run: base head and new heads",
        "",
        "Energy MAE (meV/atom) / force MAE (meV/Å). The base head is `bulk`; for the naive run it "
        "is the one head, trained on `mol`.",
        "",
        *main_table(cells),
        "### Base head relative to its pre-trained model",
        "",
        "Ratio of the base head's MAE after fine-tuning to the pre-trained model's (1.00: "
        "unchanged; above 1: worse).",
        "",
        *ratio_lines(cells),
        "### Every head on every test split (seed 0)",
        "",
        "Energy MAE (meV/atom) / force MAE (meV/Å).",
        "",
        *cross_table(cells),
        "### Plots",
        "",
        *plots,
    ]
    (args.out / "grid.md").write_text("\n".join(lines))
    print(f"wrote {args.out / 'grid.md'} and its plots")


def replay_plots(cells: list[dict], out: Path) -> list[str]:
    """The grid's plots against replay fraction, the trajectory and the per-head errors."""
    plot_against_replay(
        cells, "mol-base", "test", "Cross-domain: base head on mol-base", out / "cross.png"
    )
    plot_against_replay(
        cells, "bulk", "train", "Forgetting: base head on bulk train", out / "forget.png"
    )
    plot_against_replay(cells, "bulk", "test", "Base head on bulk test", out / "forget-test.png")
    plot_trajectory(cells, out / "trajectory.png")
    plot_heads(cells, out / "heads.png")
    return [
        "![cross-domain](cross.png)",
        "",
        "![forgetting on bulk train](forget.png)",
        "",
        "![bulk test](forget-test.png)",
        "",
        "![trajectory](trajectory.png)",
        "",
        "![per-head errors](heads.png)",
        "",
    ]


if __name__ == "__main__":
    main()
