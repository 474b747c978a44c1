"""The ``mmh-train`` command: ``pretrain``, ``finetune``, ``evaluate``, ``select-head``,
``info``, ``schema``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


def _add_run(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("config", help="YAML configuration file")
    p.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a configuration value, e.g. --set training.epochs=5 (repeatable)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmh-train",
        description="Pre-train and fine-tune multi-head MACE models (single process or torchrun).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub, "pretrain", "pre-train a model (one head per dataset)")
    _add_run(sub, "finetune", "fine-tune a pre-trained model (multi-head replay or naive)")
    ev = sub.add_parser("evaluate", help="errors of a model head on labelled structures")
    ev.add_argument("--model", required=True, help="model file")
    ev.add_argument("--head", help="head to evaluate (default: the model's only head)")
    src = ev.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="a bundled dataset (bulk, surf, mol, mol-base)")
    src.add_argument("--files", nargs="+", help="extxyz / ASE db / LMDB files")
    ev.add_argument("--split", default="test", help="split of the bundled dataset")
    ev.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    ev.add_argument("--batch-size", type=int, default=20)
    ev.add_argument("--json", help="also write the metrics to this JSON file")
    ev.add_argument(
        "--output",
        help="write per-structure predictions to this extended-XYZ file "
        "(MMH_<head>_energy, MMH_<head>_forces, MMH_<head>_stress beside the REF_ labels)",
    )
    sel = sub.add_parser("select-head", help="write a single-head model file")
    sel.add_argument("model", help="multi-head model file")
    sel.add_argument("head", help="head to keep")
    sel.add_argument("-o", "--output", required=True, help="output model file")
    info = sub.add_parser(
        "info", help="heads, elements, hyper-parameters and provenance of a model file"
    )
    info.add_argument("model", help="model file")
    info.add_argument("--json", action="store_true", help="print JSON")
    sch = sub.add_parser(
        "schema", help="write the JSON Schema of the YAML configuration (editor completion)"
    )
    sch.add_argument("-o", "--output", help="file to write (default: print it)")
    return parser


def _evaluate(args) -> int:
    import torch
    from mmh_data import (
        GraphBuilder,
        configurations_from_atoms,
        format_metrics,
        read_configurations,
    )
    from mmh_data import datasets as bundled
    from mmh_heads import load_model

    from ._evaluate import evaluate_heads
    from ._loss import LossWeights
    from ._typed import ConfigError

    model = load_model(args.model)
    heads = model.heads
    if args.head is None:
        if len(heads) > 1:
            raise ConfigError(f"--head: the model has heads {heads}; choose one")
        head = heads[0]
    elif args.head not in heads:
        raise ConfigError(f"--head: unknown head {args.head!r}; the model's heads are {heads}")
    else:
        head = args.head
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    model = model.to(dtype)
    if args.dataset:
        if args.dataset not in bundled.names():
            raise ConfigError(f"--dataset: unknown dataset {args.dataset!r}; {bundled.names()}")
        configs = configurations_from_atoms(
            bundled.load_atoms(args.dataset, args.split),
            head=head,
            heads=heads,
            source=f"{args.dataset}:{args.split}",
        )
    else:
        configs = read_configurations(args.files, head=head, heads=heads)
    builder = GraphBuilder(model.backbone.config.r_max, heads=heads, dtype=dtype)
    graphs = {head: [builder(c) for c in configs]}
    results = evaluate_heads(model, graphs, loss_weights=LossWeights(), batch_size=args.batch_size)
    print(format_metrics(results, f"{args.model} head {head!r}: {len(configs)} structures"))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.output:
        from ._predict import predict_structures, write_predictions

        predictions = predict_structures(model, graphs[head], batch_size=args.batch_size)
        path = write_predictions(args.output, configs, predictions, head)
        print(f"predictions: {path} (MMH_{head}_energy, MMH_{head}_forces, MMH_{head}_stress)")
    return 0


def _schema(args) -> int:
    from ._schema import config_schema, write_config_schema

    if args.output:
        print(f"wrote {write_config_schema(args.output)}")
    else:
        print(json.dumps(config_schema(), indent=2, ensure_ascii=False))
    return 0


def _info(args) -> int:
    from ._info import format_model_info, model_info

    info = model_info(args.model)
    print(json.dumps(info, indent=1) if args.json else format_model_info(info))
    return 0


def _select_head(args) -> int:
    from mmh_heads import load_model, save_model

    from ._typed import ConfigError

    model = load_model(args.model)
    if args.head not in model.heads:
        raise ConfigError(f"unknown head {args.head!r}; the model's heads are {model.heads}")
    save_model(model.extract_head(args.head), args.output)
    print(f"wrote {args.output} (head {args.head!r})")
    return 0


def _run(args) -> int:
    from ._config import load_config
    from ._run import run_recipe

    config = load_config(args.config, args.overrides)
    results = run_recipe(config, args.command, resume=args.resume)
    from ._distributed import init_distributed

    if init_distributed(config.device).is_main:
        from mmh_data import format_metrics

        for split in ("train", "valid", "test"):
            if results["metrics"].get(split):
                print(format_metrics(results["metrics"][split], f"{split} errors"))
        out = Path(config.output)
        print(f"stopped: {results['stopped']} after {results['steps']} steps")
        print(f"model: {results['model']}")
        print(f"logs: {out / 'train.log'}, {out / 'metrics.jsonl'}, {out / 'metrics.csv'}")
        if config.logging.plots:
            print(f"learning curves: {out / 'learning_curves.png'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mmh-train``; bad input ends with a one-line message and status 2."""
    args = _parser().parse_args(argv)
    from mmh_data import DataError
    from mmh_heads import ModelFileError

    from ._checkpoint import CheckpointError
    from ._typed import ConfigError

    try:
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "select-head":
            return _select_head(args)
        if args.command == "info":
            return _info(args)
        if args.command == "schema":
            return _schema(args)
        return _run(args)
    except (ConfigError, DataError, ModelFileError, CheckpointError) as err:
        message = " ".join(str(err).split())
        print(f"mmh-train: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
