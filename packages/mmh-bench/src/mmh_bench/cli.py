"""The ``mmh-bench`` command: run the suite on a model or a reference calculator, rebuild a
report from saved results, list what can run.

Examples::

    mmh-bench run --model model.safetensors --head omat --suite physicality,in_domain --out out
    mmh-bench run --calculator emt --suite physicality --out emt-run
    mmh-bench run --calculator ase.calculators.emt:EMT --suite physicality --out emt-run
    mmh-bench run --calculator "mace.calculators:mace_mp?model=small" --suite physicality --out mp
    mmh-bench report out
    mmh-bench list
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._calculators import CALCULATORS, make_calculator, model_calculator
from ._report import load_results, load_run_info, write_report
from ._score import SCORE_TABLE
from ._suite import BENCHMARKS, SUITES, SuiteOptions, run_suite

__all__ = ["main"]


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in _csv(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas: {text!r}") from err


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected a size like 4x4, got {text!r}")
    return int(parts[0]), int(parts[1])


def _heads(text: str) -> dict[str, str]:
    out = {}
    for item in _csv(text):
        dataset, sep, head = item.partition("=")
        if not sep or not dataset or not head:
            raise argparse.ArgumentTypeError(f"expected dataset=head pairs, got {item!r}")
        out[dataset.strip()] = head.strip()
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmh-bench", description="Benchmarks of interatomic potentials and the paper's score."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run benchmarks and write results and a report")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="mmh model file (.safetensors)")
    source.add_argument(
        "--calculator",
        metavar="NAME|module:Factory?key=value",
        help=f"a built-in calculator ({', '.join(CALCULATORS)}) or any ASE calculator "
        "importable here, as module:Factory?key=value&key=value "
        "(e.g. ase.calculators.emt:EMT)",
    )
    run.add_argument("--head", help="head of the model (needed for a multi-head model)")
    run.add_argument("--dtype", choices=("float32", "float64"), help="model dtype")
    run.add_argument("--device", default="cpu", help="torch device of the model (cpu)")
    run.add_argument(
        "--suite",
        type=_csv,
        default=["physicality"],
        help=f"suites and/or benchmarks, comma-separated; suites: {', '.join(SUITES)} "
        "(default: physicality)",
    )
    run.add_argument("--out", type=Path, required=True, help="output directory")
    run.add_argument("--data-dir", type=Path, help="root of the external benchmarks' data")
    run.add_argument(
        "--elements",
        type=_csv,
        help="elements of the diatomics and the equation of state, e.g. H,C,N,O "
        "(default: the calculator's own; H,C,N,O for tblite)",
    )
    run.add_argument("--pairs", type=_csv, help="diatomic pairs instead, e.g. H-H,H-O,Al-Ni")
    run.add_argument("--homonuclear-only", action="store_true", help="only homonuclear diatomics")
    run.add_argument("--points", type=int, default=100, help="points per diatomic curve (100)")
    run.add_argument("--metals", type=_csv, default=["Al", "Ni"], help="slab metals (Al,Ni)")
    run.add_argument("--slab-size", type=_size, default=(4, 4), help="slab repetitions (4x4)")
    run.add_argument("--slab-layers", type=int, default=8, help="slab layers (8)")
    run.add_argument(
        "--h-distances",
        type=_floats,
        default=SuiteOptions.h_distances,
        help="heights of H above the slab in Å (50,60,...,100)",
    )
    run.add_argument("--datasets", type=_csv, help="bundled datasets for in_domain (all)")
    run.add_argument(
        "--heads", type=_heads, help="dataset=head pairs for in_domain, e.g. bulk=omat,mol=omol"
    )
    run.add_argument("--max-frames", type=int, help="at most N frames per dataset (in_domain)")
    run.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="molecular/materials/external benchmarks: fail on a system the calculator "
        "cannot compute (raise, default) or leave it out (skip)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress messages")

    report = sub.add_parser("report", help="rebuild the report of a results directory")
    report.add_argument("results_dir", type=Path, help="a run directory (or a folder of JSONs)")
    report.add_argument("--out", type=Path, help="where to write the report (results_dir)")

    sub.add_parser("list", help="list suites, benchmarks and the scored metrics")
    return parser


def _run(args: argparse.Namespace) -> int:
    if len(args.metals) != 2:
        raise ValueError(f"--metals takes two metals, got {args.metals}")
    elements = args.elements
    if args.model is not None:
        from mmh_ase import list_heads

        calc = model_calculator(str(args.model), args.head, dtype=args.dtype, device=args.device)
        heads = set(list_heads(str(args.model)))
        cache = {calc.head: calc}

        def factory(head: str):
            if head not in cache:
                cache[head] = model_calculator(
                    str(args.model), head, dtype=args.dtype, device=args.device
                )
            return cache[head]

        datasets = args.datasets
        if datasets is None:
            from mmh_data import datasets as bundled

            datasets = bundled.names()
        mapping = {d: (d if d in heads else calc.head) for d in datasets}
        mapping.update(args.heads or {})
        in_domain_calcs = factory
    else:
        calc = make_calculator(args.calculator)
        mapping, datasets, in_domain_calcs = dict(args.heads or {}), args.datasets, None
        if elements is None and args.calculator.startswith("tblite"):
            elements = ["H", "C", "N", "O"]
    options = SuiteOptions(
        elements=elements,
        pairs=args.pairs,
        heteronuclear=not args.homonuclear_only,
        diatomic_points=args.points,
        metals=(args.metals[0], args.metals[1]),
        slab_size=args.slab_size,
        slab_layers=args.slab_layers,
        h_distances=args.h_distances,
        in_domain_datasets=datasets,
        in_domain_heads=mapping,
        max_frames=args.max_frames,
        data_dir=args.data_dir,
        on_error=args.on_error,
    )
    progress = None if args.quiet else (lambda m: print(f"mmh-bench: {m}", file=sys.stderr))
    run = run_suite(
        calc,
        args.suite,
        options=options,
        in_domain_calculators=in_domain_calcs,
        out_dir=args.out,
        progress=progress,
    )
    print(f"report: {run.report}")
    for name, message in run.failures.items():
        print(f"failed: {name}: {message}", file=sys.stderr)
    return 1 if run.failures else 0


def _report(args: argparse.Namespace) -> int:
    results = load_results(args.results_dir)
    info = load_run_info(args.results_dir)
    path = write_report(results, args.out or args.results_dir, run_info=info)
    print(f"report: {path}")
    return 0


def _list() -> int:
    for group, names in SUITES.items():
        print(f"{group}: {', '.join(names)}")
    print("\nscored metrics (Table XX): domain  benchmark.metric  best  worst")
    for row in SCORE_TABLE:
        print(f"  {row.domain:<18} {row.benchmark}.{row.metric:<30} {row.best:<6g} {row.worst:g}")
    print(f"\nall benchmarks: {', '.join(BENCHMARKS)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mmh-bench``; returns the exit status (1 when a benchmark failed)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "report":
            return _report(args)
        return _list()
    except (ValueError, FileNotFoundError, ImportError, KeyError) as err:
        print(f"mmh-bench: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
