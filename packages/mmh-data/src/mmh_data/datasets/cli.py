"""``mmh-data datasets``: generate, export and describe the bundled datasets."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``datasets`` command group to an ``argparse`` subparsers object.

    Args:
        subparsers: The object returned by ``ArgumentParser.add_subparsers()``.

    Returns:
        The ``datasets`` parser.
    """
    parser = subparsers.add_parser("datasets", help="bundled datasets: generate, export, info")
    sub = parser.add_subparsers(dest="datasets_command", required=True)

    gen = sub.add_parser("generate", help="generate a dataset with tblite (resumable)")
    gen.add_argument("name", help="dataset name or 'all'")
    gen.add_argument("--workers", type=int, default=2, help="worker processes (one thread each)")
    gen.add_argument("--work", type=Path, default=Path("runs/datasets-work"), help="chunk dir")
    gen.add_argument("--out", type=Path, default=None, help="output dir (default: the package)")
    gen.add_argument("--seed", type=int, default=0)
    gen.set_defaults(func=_generate)

    res = sub.add_parser(
        "resplit", help="split a generated dataset again (no labelling), see its split rule"
    )
    res.add_argument("name", help="dataset name or 'all' (bulk, surf, mol, mol-base)")
    res.add_argument("--seed", type=int, default=0)
    res.add_argument("--data", type=Path, default=None, help="data dir (default: the package)")
    res.set_defaults(func=_resplit)

    rel = sub.add_parser("relabel", help="store a second level of theory on a dataset's frames")
    rel.add_argument("name", help="dataset (mol)")
    rel.add_argument("--level", default="gfn1", choices=["gfn1", "gfn2"])
    rel.add_argument("--workers", type=int, default=2)
    rel.add_argument("--data", type=Path, default=None, help="data dir (default: the package)")
    rel.set_defaults(func=_relabel)

    rel = sub.add_parser("relative", help="interaction energies (mol) or the adsorption set (surf)")
    rel.add_argument("name", choices=["mol", "surf"])
    rel.add_argument("--workers", type=int, default=2)
    rel.add_argument("--seed", type=int, default=0, help="surf: the generation seed")
    rel.add_argument("--data", type=Path, default=None, help="data dir (default: the package)")
    rel.set_defaults(func=_relative)

    exp = sub.add_parser("export", help="write a split to extended XYZ")
    exp.add_argument("name")
    exp.add_argument("split", choices=["train", "valid", "test", "ood"])
    exp.add_argument("-o", "--output", type=Path, required=True)
    exp.set_defaults(func=_export)

    info = sub.add_parser("info", help="list datasets with sizes and provenance")
    info.add_argument("name", nargs="?", default=None)
    info.set_defaults(func=_info)

    lev = sub.add_parser("levels", help="GFN2 - GFN1 energy spread on the mol geometries")
    lev.add_argument("--workers", type=int, default=2)
    lev.add_argument("--plot-dir", type=Path, default=Path("docs/datasets/img"))
    lev.set_defaults(func=_levels)

    plots = sub.add_parser("plots", help="draw the datasheet plots")
    plots.add_argument("--out", type=Path, default=Path("docs/datasets/img"))
    plots.set_defaults(func=_plots)

    sheets = sub.add_parser("datasheets", help="write the datasheet pages from the metadata")
    sheets.add_argument("--out", type=Path, default=Path("docs/datasets"))
    sheets.set_defaults(func=_datasheets)
    return parser


def _generate(args) -> int:
    from ._generate import NAMES, generate

    names = NAMES if args.name == "all" else (args.name,)
    for name in names:
        generate(name, args.work, args.workers, args.seed, args.out)
    return 0


def _resplit(args) -> int:
    from ._generate import NAMES, resplit

    names = [n for n in NAMES if n != "bridge"] if args.name == "all" else [args.name]
    for name in names:
        resplit(name, args.seed, args.data)
    return 0


def _relabel(args) -> int:
    from ._relabel import relabel

    summary = relabel(args.name, args.level, workers=args.workers, data=args.data)
    print(
        f"{args.name}: {summary['frames']} frames labelled at {summary['method']}, "
        f"{summary['scf_failures']} SCF failures, {summary['wall_s']:.0f} s"
    )
    return 0


def _relative(args) -> int:
    from ._relative import interaction_energies, make_adsorption_set

    if args.name == "mol":
        summary = interaction_energies("mol", workers=args.workers, data=args.data)
    else:
        summary = make_adsorption_set(seed=args.seed, workers=args.workers, data=args.data)
    print(f"done in {summary['wall_s']:.0f} s")
    return 0


def _export(args) -> int:
    from ase.io import write

    from . import load_atoms

    frames = load_atoms(args.name, args.split)
    write(args.output, frames, format="extxyz")
    print(f"wrote {len(frames)} frames to {args.output}")
    return 0


def _info(args) -> int:
    from . import bridging_names, metadata, names

    for name in [args.name] if args.name else [*names(), *bridging_names()]:
        meta = metadata(name)
        prov = meta["provenance"]
        method = prov.get("method") or " + ".join(prov["methods"])
        sizes = ", ".join(f"{k} {v['frames']}" for k, v in meta["splits"].items())
        print(f"{name}: {method} (tblite {prov['versions']['tblite']}), {sizes}")
    return 0


def _levels(args) -> int:
    from ._levels import compute_and_store
    from ._plots import draw_levels

    result = compute_and_store(workers=args.workers)
    draw_levels(result["residual_per_atom"], result["std_ev_per_atom"], args.plot_dir)
    print(
        f"GFN2 - GFN1 after per-element E0 alignment: std {result['std_ev_per_atom']:.4f} eV/atom"
    )
    return 0


def _plots(args) -> int:
    from ._plots import draw_all

    for path in draw_all(args.out):
        print(path)
    return 0


def _datasheets(args) -> int:
    from ._datasheet import write_all

    for path in write_all(args.out):
        print(path)
    return 0


def main(argv=None) -> int:
    """Run the ``datasets`` commands as a standalone program (``python -m mmh_data.datasets``)."""
    parser = argparse.ArgumentParser(prog="mmh-data")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["datasets", *(argv if argv is not None else __import__("sys").argv[1:])]
    )
    return args.func(args)
