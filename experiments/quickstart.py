"""The quick pipeline on the bundled data: pre-train, multi-head replay fine-tune, evaluate,
benchmark.

1. ``mmh-train pretrain``: a small MACE model on the ``bulk`` crystals (GFN1-xTB labels).
2. ``mmh-train finetune``: heads ``surf`` (GFN1-xTB slabs) and ``mol`` (GFN2-xTB molecules)
   with a replay buffer of ``bulk`` crystals for the base head.
3. Test errors of both models, with their skill against trivial baselines (zero force, a
   per-element linear energy): each head on its in-distribution ``test`` split (held-out
   frames of its training families) and its ``ood`` split (unseen families), and the base
   head on ``mol-base`` (molecules at the base level of theory, never trained on).
4. ``mmh-bench run``: the physicality suite and the in-domain errors, with a report and plots.

Each step resumes where it stopped when the script is run again. It takes about 9 minutes
on two CPU cores; ``--epochs`` and ``--finetune-steps`` set the training length.

Usage::

    uv run python experiments/quickstart.py [--out runs/quickstart] [--epochs 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def say(message: str) -> None:
    print(f"\n=== {message}", flush=True)


def train(recipe: str, config: dict, run_dir: Path) -> Path:
    """Run (or resume, or skip when finished) one ``mmh-train`` recipe."""
    from mmh_train.cli import main as mmh_train

    model = run_dir / "model.safetensors"
    if (run_dir / "results.json").exists():
        print(f"{run_dir} is finished; skipping")
        return model
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "input.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    args = [recipe, str(path)]
    if (run_dir / "checkpoint.pt").exists():
        args.append("--resume")
    print("$ mmh-train " + " ".join(args), flush=True)
    if mmh_train(args) != 0:
        raise SystemExit(f"mmh-train {recipe} failed")
    return model


def errors_table(results: dict[str, dict[str, dict]]) -> str:
    lines = [
        "| model | head on split | E MAE (meV/atom) | E skill | F MAE (meV/Å) | F skill |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for model, rows in results.items():
        for name, m in rows.items():
            lines.append(
                f"| {model} | {name} | {m['energy_mae']:.1f} | {m['energy_skill']:.2f} "
                f"| {m['forces_mae']:.1f} | {m['forces_skill']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/quickstart"))
    parser.add_argument("--epochs", type=int, default=20, help="pre-training epochs (20)")
    parser.add_argument(
        "--max-minutes", type=float, default=10.0, help="pre-training time limit (10)"
    )
    parser.add_argument("--finetune-steps", type=int, default=3000)
    parser.add_argument("--finetune-lr", type=float, default=0.005)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    start = time.monotonic()
    out = args.out.resolve()

    say(f"1/4 pre-training on bulk for {args.epochs} epochs")
    cfg = yaml.safe_load((HERE / "configs" / "pretrain-bulk.yaml").read_text())
    cfg["output"] = str(out / "pretrain")
    cfg["training"].update(
        epochs=args.epochs, max_minutes=args.max_minutes, num_threads=args.threads
    )
    pretrained = train("pretrain", cfg, out / "pretrain")

    say(f"2/4 multi-head replay fine-tuning (surf, mol) for {args.finetune_steps} steps")
    cfg = yaml.safe_load((HERE / "configs" / "finetune-replay.yaml").read_text())
    cfg["output"] = str(out / "finetune")
    cfg["finetune"]["model"] = str(pretrained)
    cfg["heads"]["mol"].pop("max_train", None)  # all 3231 training molecules
    # of every batch of ten: 4 slabs, 3 molecules, 3 replayed crystals (slabs are the
    # hardest of the three to learn)
    cfg["heads"]["surf"]["share"] = 0.4
    cfg["heads"]["mol"]["share"] = 0.3
    cfg["optimizer"]["lr"] = args.finetune_lr
    cfg["training"].update(epochs=1000, max_steps=args.finetune_steps, num_threads=args.threads)
    finetuned = train("finetune", cfg, out / "finetune")

    say("3/4 test errors and skill: every head on its own held-out frames and unseen families")
    import torch
    from common import evaluate_model

    torch.set_num_threads(args.threads)
    base = [("bulk", "bulk", "test"), ("bulk", "bulk", "ood"), ("bulk", "mol-base", "test")]
    new = [
        ("surf", "surf", "test"),
        ("surf", "surf", "ood"),
        ("mol", "mol", "test"),
        ("mol", "mol", "ood"),
    ]
    results = {
        "pre-trained": evaluate_model(pretrained, base, max_frames=200),
        "fine-tuned": evaluate_model(finetuned, base + new, max_frames=200),
    }
    table = errors_table(results)
    print(table)
    (out / "errors.md").write_text(table)
    (out / "errors.json").write_text(json.dumps(results, indent=1))

    say("4/4 benchmark report: physicality and in-domain errors of the bulk head")
    from mmh_bench.cli import main as mmh_bench

    bench = [
        "run",
        "--model",
        str(finetuned),
        "--head",
        "bulk",
        "--suite",
        "physicality,in_domain",
        "--elements",
        "H,C,N,O,F,Al,Si,Cu",
        "--homonuclear-only",
        "--points",
        "40",
        "--max-frames",
        "50",
        "--out",
        str(out / "bench"),
    ]
    print("$ mmh-bench " + " ".join(bench), flush=True)
    if mmh_bench(bench) != 0:
        raise SystemExit("mmh-bench failed")

    minutes = (time.monotonic() - start) / 60
    say(f"done in {minutes:.1f} min")
    print(f"pre-trained model:   {pretrained}")
    print(f"fine-tuned model:    {finetuned}  (heads bulk, surf, mol)")
    print(f"learning curves:     {out / 'finetune' / 'learning_curves.png'}")
    print(f"test errors:         {out / 'errors.md'}")
    print(f"benchmark report:    {out / 'bench' / 'report.md'}")
    print(f"benchmark plots:     {out / 'bench' / 'figures'}")
    print("use the model in ASE: mmh_ase.MMHCalculator(MODEL, head='mol')")


if __name__ == "__main__":
    main()
