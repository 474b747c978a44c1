"""The ``mmh-data`` command line: convert files to the LMDB store, print statistics,
select replay buffers.

Examples::

    mmh-data convert train_*.xyz -o train.lmdb --head pbe --cutoff 6
    mmh-data stats train.lmdb --cutoff 6 --json
    mmh-data select pool.xyz -n 1000 --method fps --filter combinations \\
        --elements H,C,O -o replay.xyz
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import warnings
from collections.abc import Sequence

from ase.data import atomic_numbers as _symbol_to_z

from ._errors import DataError
from ._keys import KeySpec

__all__ = ["build_parser", "main"]


def _elements(text: str | None) -> list[int] | None:
    if not text:
        return None
    out = []
    for item in text.replace(" ", "").split(","):
        if item.isdigit():
            out.append(int(item))
        elif item in _symbol_to_z:
            out.append(_symbol_to_z[item])
        else:
            raise argparse.ArgumentTypeError(f"unknown element {item!r}")
    return out


def _add_key_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("keys (defaults as in mace)")
    defaults = KeySpec()
    for name in (
        "energy",
        "forces",
        "stress",
        "head",
        "config_type",
        "config_weight",
        "energy_weight",
        "forces_weight",
        "stress_weight",
    ):
        g.add_argument(
            f"--{name.replace('_', '-')}-key",
            dest=f"key_{name}",
            default=getattr(defaults, name),
            help=f"default: {getattr(defaults, name)}",
        )
    g.add_argument(
        "--use-calculator",
        action="store_true",
        help="also read labels from atoms.calc.results (keys energy/forces/stress)",
    )


def _add_read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--head", default=None, help="head of frames without a head key")
    p.add_argument(
        "--heads",
        default=None,
        help="comma-separated declared heads; other head names are an error",
    )
    p.add_argument(
        "--elements",
        type=_elements,
        default=None,
        help="allowed elements, e.g. H,C,O (default: any)",
    )
    _add_key_options(p)


def _keys(args: argparse.Namespace) -> KeySpec:
    values = {k[4:]: v for k, v in vars(args).items() if k.startswith("key_")}
    return KeySpec(use_calculator=args.use_calculator, **values)


def _heads(args: argparse.Namespace) -> list[str] | None:
    return None if not args.heads else [h.strip() for h in args.heads.split(",")]


def _print_stats(stats, as_json: bool) -> None:
    from ._statistics import format_statistics

    if as_json:
        print(json.dumps({h: s.to_dict() for h, s in stats.items()}, indent=2))
    else:
        print(format_statistics(stats))


def _cmd_convert(args: argparse.Namespace) -> int:
    from ._lmdb import update_lmdb_metadata, write_lmdb
    from ._read import iter_configurations
    from ._statistics import StatisticsAccumulator

    keys = _keys(args)
    accumulators: dict[str, StatisticsAccumulator] = {}

    def feed():
        for config in iter_configurations(
            args.inputs, keys=keys, head=args.head, heads=_heads(args), elements=args.elements
        ):
            acc = accumulators.get(config.head)
            if acc is None:
                acc = accumulators[config.head] = StatisticsAccumulator(config.head, args.cutoff)
            acc.add(config)
            yield config

    meta = write_lmdb(
        args.output, feed(), overwrite=args.overwrite, metadata={"keys": keys.to_dict()}
    )
    stats = {h: acc.result(args.e0s) for h, acc in accumulators.items()}
    update_lmdb_metadata(args.output, {"statistics": {h: s.to_dict() for h, s in stats.items()}})
    if not args.json:
        print(f"wrote {meta['count']} structures to {args.output}")
    _print_stats(stats, args.json)
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from ._read import iter_configurations
    from ._statistics import compute_statistics

    configs = iter_configurations(
        args.inputs, keys=_keys(args), head=args.head, heads=_heads(args), elements=args.elements
    )
    stats = compute_statistics(configs, cutoff=args.cutoff, e0s=args.e0s, heads=_heads(args))
    _print_stats(stats, args.json)
    return 0


def _cmd_select(args: argparse.Namespace) -> int:
    import ase.io

    from ._replay import select_replay

    selected = select_replay(
        args.inputs,
        args.n,
        method=args.method,
        filter=args.filter,
        elements=args.elements,
        seed=args.seed,
        cutoff=args.cutoff,
        allow_fewer=args.allow_fewer,
        keys=_keys(args),
        head=args.assign_head,
        weight=args.weight,
    )
    ase.io.write(args.output, [c.to_atoms() for c in selected], format="extxyz")
    print(
        f"selected {len(selected)} structures ({args.method}, filter {args.filter}) "
        f"-> {args.output}"
    )
    return 0


def _has_datasets_cli() -> bool:
    # The bundled datasets are a sibling subpackage; their commands join this CLI when
    # that module exists.
    if importlib.util.find_spec("mmh_data.datasets") is None:
        return False
    return importlib.util.find_spec("mmh_data.datasets.cli") is not None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mmh-data`` (subcommands convert, stats, select, and the
    dataset commands when the bundled datasets are installed)."""
    parser = argparse.ArgumentParser(
        prog="mmh-data",
        description="Convert data files to the mmh LMDB store, print statistics, select "
        "replay buffers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "convert", help="convert extxyz / ASE db files to an mmh LMDB store and print statistics"
    )
    p.add_argument("inputs", nargs="+", help="input files (.xyz, .extxyz, .db, .json, .aselmdb)")
    p.add_argument("-o", "--output", required=True, help="output store (*.lmdb)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--cutoff", type=float, default=5.0, help="cutoff for neighbour counts (Å)")
    p.add_argument("--e0s", choices=["auto", "average", "isolated"], default="auto")
    p.add_argument("--json", action="store_true", help="print statistics as JSON")
    _add_read_options(p)
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("stats", help="print per-head statistics of data files")
    p.add_argument("inputs", nargs="+", help="input files (.xyz, .extxyz, .db, .json, .lmdb)")
    p.add_argument("--cutoff", type=float, default=5.0, help="cutoff for neighbour counts (Å)")
    p.add_argument("--e0s", choices=["auto", "average", "isolated"], default="auto")
    p.add_argument("--json", action="store_true", help="print statistics as JSON")
    _add_read_options(p)
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser("select", help="select a replay buffer from a pre-training pool")
    p.add_argument("inputs", nargs="+", help="pool files")
    p.add_argument("-n", type=int, required=True, help="number of structures")
    p.add_argument("-o", "--output", required=True, help="output extxyz file")
    p.add_argument("--method", choices=["random", "fps"], default="random")
    p.add_argument(
        "--filter", choices=["none", "combinations", "inclusive", "exclusive"], default="none"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cutoff", type=float, default=5.0, help="cutoff of FPS descriptors (Å)")
    p.add_argument(
        "--allow-fewer",
        action="store_true",
        help="return all that pass the filter when fewer than -n do",
    )
    p.add_argument("--assign-head", default=None, help="write this head name on the selection")
    p.add_argument("--weight", type=float, default=None, help="config weight of the selection")
    _add_key_options(p)
    p.add_argument(
        "--elements",
        type=_elements,
        default=None,
        help="fine-tuning elements for the filter, e.g. H,C,O",
    )
    p.set_defaults(func=_cmd_select)

    if _has_datasets_cli():
        from .datasets import cli as datasets_cli

        datasets_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mmh-data`` command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status (0 on success, 2 on a data error).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args) or 0)
        except (DataError, FileExistsError) as exc:
            print(f"mmh-data: error: {exc}", file=sys.stderr)
            return 2


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"mmh-data: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
