"""Compare a pre-trained model with its replay and naive fine-tunings on the bundled tests.

Every model is evaluated head by head on the bundled test splits: the base head on ``bulk``
(forgetting) and on ``mol-base`` (cross-domain, same level of theory), the new heads on their
own tests. The table is printed and written as Markdown and JSON.

Usage::

    uv run python experiments/replay_vs_naive.py --pretrained runs/pretrain-bulk \\
        --replay runs/finetune-replay --naive runs/finetune-naive --out docs/benchmarks/data
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from mmh_data import GraphBuilder, configurations_from_atoms
from mmh_data import datasets as bundled
from mmh_heads import load_model
from mmh_train import LossWeights, evaluate_heads

#: (head, dataset, split) to evaluate when the model has the head. The ``bulk`` test split
#: holds structure families (and fluorine) that the ``bulk`` training split does not, so
#: forgetting of what was learnt is measured on the training split too.
EVALUATIONS = (
    ("bulk", "bulk", "train"),
    ("bulk", "bulk", "test"),
    ("bulk", "mol-base", "test"),
    ("surf", "surf", "test"),
    ("mol", "mol", "test"),
)


def evaluate(model_file: Path, dtype=torch.float32) -> dict[str, dict[str, float]]:
    """Test errors of every (head, dataset) pair the model can be evaluated on."""
    model = load_model(model_file).to(dtype)
    builder = GraphBuilder(model.backbone.config.r_max, heads=model.heads, dtype=dtype)
    out = {}
    for head, dataset, split in EVALUATIONS:
        if head not in model.heads:
            continue
        atoms = bundled.load_atoms(dataset, split)
        configs = configurations_from_atoms(atoms, head=head, heads=model.heads)
        graphs = {head: [builder(c) for c in configs]}
        result = evaluate_heads(model, graphs, loss_weights=LossWeights(), batch_size=40)
        out[f"{head} on {dataset} {split}"] = result[head]
        print(f"{model_file}: {head} on {dataset} {split} done", flush=True)
    return out


def markdown(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """One row per model and evaluation: energy and force MAE/RMSE."""
    lines = [
        "| model | head on test set | E MAE (meV/atom) | E RMSE (meV/atom) "
        "| F MAE (meV/Å) | F RMSE (meV/Å) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for model, rows in results.items():
        for name, m in rows.items():
            lines.append(
                f"| {model} | {name} | {m['energy_mae']:.1f} | {m['energy_rmse']:.1f} "
                f"| {m['forces_mae']:.1f} | {m['forces_rmse']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", type=Path, required=True)
    parser.add_argument("--replay", type=Path, required=True)
    parser.add_argument("--naive", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="directory for the .md and .json files")
    args = parser.parse_args()
    runs = {"pre-trained": args.pretrained, "replay": args.replay, "naive": args.naive}
    results = {name: evaluate(path / "model.safetensors") for name, path in runs.items()}
    table = markdown(results)
    print(table)
    for split in ("train", "test"):
        base = results["pre-trained"][f"bulk on bulk {split}"]
        for name in ("replay", "naive"):
            m = results[name][f"bulk on bulk {split}"]
            print(
                f"{name}: bulk head on bulk {split}: energy MAE "
                f"x{m['energy_mae'] / base['energy_mae']:.2f}, force MAE "
                f"x{m['forces_mae'] / base['forces_mae']:.2f} of the pre-trained model"
            )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "replay_vs_naive.md").write_text(table)
        (args.out / "replay_vs_naive.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
