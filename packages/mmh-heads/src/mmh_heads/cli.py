"""The ``mmh-heads`` command: import mace-torch models, export to mace-torch, list heads,
set a head's metadata.

Examples::

    mmh-heads import-mace mace-mh-1.model -o mh1.safetensors
    mmh-heads import-mace mace-mh-1.model -o omat.safetensors --heads omat_pbe
    mmh-heads list-heads mh1.safetensors
    mmh-heads export-mace finetuned.safetensors -o finetuned.model
    mmh-heads set-meta mh1.safetensors omat_pbe --level-of-theory PBE --dispersion false \
        --datasets OMAT -o mh1-tagged.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmh-heads", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    imp = sub.add_parser("import-mace", help="convert a mace-torch model file to an mmh model")
    imp.add_argument(
        "input", help="mace-torch .model file (or state-dict .pt with --hyperparameters)"
    )
    imp.add_argument("-o", "--output", required=True, help="mmh model file to write (.safetensors)")
    imp.add_argument("--heads", nargs="+", help="keep only these heads (default: all)")
    imp.add_argument("--dtype", choices=["float32", "float64"], help="default: the file's")
    imp.add_argument(
        "--hyperparameters", help="for a state-dict .pt: a .model file with its architecture"
    )
    imp.add_argument("--force", action="store_true", help="overwrite the output if it exists")

    exp = sub.add_parser("export-mace", help="write an mmh model as a mace-torch .model file")
    exp.add_argument("input", help="mmh model file (.safetensors)")
    exp.add_argument("-o", "--output", required=True, help="mace-torch .model file to write")
    exp.add_argument(
        "--python",
        help="python interpreter of an environment with mace-torch (default: $MMH_MACE_PYTHON, "
        "or an isolated environment created with uv)",
    )
    exp.add_argument("--force", action="store_true", help="overwrite the output if it exists")

    lst = sub.add_parser("list-heads", help="the heads of a model file and where it came from")
    lst.add_argument("model", help="mmh model file (.safetensors)")
    lst.add_argument("--json", action="store_true", help="print JSON")

    meta = sub.add_parser("set-meta", help="set the metadata of one head (weights unchanged)")
    meta.add_argument("model", help="mmh model file (.safetensors)")
    meta.add_argument("head", help="the head")
    meta.add_argument("-o", "--output", required=True, help="model file to write")
    meta.add_argument("--level-of-theory", help="e.g. PBE, r2SCAN, wB97M-V/def2-TZVPD")
    meta.add_argument(
        "--dispersion",
        choices=("true", "false"),
        help="whether the head's labels include a dispersion correction",
    )
    meta.add_argument("--datasets", help="training datasets, comma-separated")
    meta.add_argument("--notes", help="free text")
    meta.add_argument("--force", action="store_true", help="overwrite the output if it exists")
    return parser


def _set_meta(args) -> None:
    from pathlib import Path

    from ._file import load_model, save_model

    out = Path(args.output)
    if out.exists() and not args.force:
        raise FileExistsError(f"{out} exists; pass --force to overwrite it")
    model = load_model(args.model)
    if args.head not in model.heads:
        raise ValueError(f"{args.model} has no head {args.head!r}; its heads are {model.heads}")
    old = model.head_meta.get(args.head)
    meta = old.to_dict() if old else {}
    if args.level_of_theory is not None:
        meta["level_of_theory"] = args.level_of_theory
    if args.dispersion is not None:
        meta["dispersion"] = args.dispersion == "true"
    if args.datasets is not None:
        meta["datasets"] = [d.strip() for d in args.datasets.split(",") if d.strip()]
    if args.notes is not None:
        meta["notes"] = args.notes
    model.set_head_meta(args.head, meta)
    save_model(model, out)
    _print_description(describe(str(out)))


def describe(path: str) -> dict:
    """Heads (E0s, scale, shift, readout size, metadata), elements and provenance of a
    model file."""
    from ._file import read_model_header

    header = read_model_header(path)
    config = header["config"]
    heads = []
    for k, name in enumerate(header["heads"]):
        e0s = config.get("e0s", {}).get(name, {})
        heads.append(
            {
                "name": name,
                "scale": config.get("scale", {}).get(name, 1.0),
                "shift": config.get("shift", {}).get(name, 0.0),
                "readout_hidden": config["readout_hidden"][k],
                "e0s": e0s,
                "meta": config.get("head_meta", {}).get(name, {}),
            }
        )
    return {
        "file": str(path),
        "heads": heads,
        "elements": header["elements"],
        "dtype": header["dtype"],
        "block": config["backbone"]["block"],
        "first_block": config["backbone"].get("first_block"),
        "r_max": config["backbone"]["r_max"],
        "avg_num_neighbors": config["backbone"]["avg_num_neighbors"],
        "zbl": config.get("zbl", False),
        "source": header.get("source"),
    }


def format_head_meta(meta: dict) -> str:
    """One line of a head's metadata (``level of theory PBE; dispersion not included; ...``);
    empty without metadata."""
    parts = []
    if meta.get("level_of_theory"):
        parts.append(f"level of theory {meta['level_of_theory']}")
    if meta.get("dispersion") is not None:
        parts.append(f"dispersion {'included' if meta['dispersion'] else 'not included'}")
    if meta.get("datasets"):
        parts.append(f"datasets {', '.join(meta['datasets'])}")
    if meta.get("notes"):
        parts.append(str(meta["notes"]))
    return "; ".join(parts)


def _print_description(info: dict) -> None:
    print(f"{info['file']}: {len(info['heads'])} head(s), {info['dtype']}")
    blocks = info["block"] if not info["first_block"] else f"{info['first_block']}, {info['block']}"
    print(
        f"  blocks {blocks}; r_max {info['r_max']} Å; avg_num_neighbors "
        f"{info['avg_num_neighbors']:.6g}; ZBL {'on' if info['zbl'] else 'off'}"
    )
    print(f"  elements {info['elements']}")
    for head in info["heads"]:
        e0 = head["e0s"]
        e0_text = f"E0s for {len(e0)} elements" if e0 else "no E0s"
        print(
            f"  {head['name']}: scale {head['scale']:.6g}, shift {head['shift']:.6g}, "
            f"readout {head['readout_hidden']} hidden units, {e0_text}"
        )
        text = format_head_meta(head.get("meta") or {})
        if text:
            print(f"    {text}")
    source = info["source"]
    if source:
        print(
            f"  imported from {source['file']} (sha256 {source['sha256']}), "
            f"mace-torch {source['mace_version']}, {source['form']} form, {source['dtype']}"
        )
        print(f"  heads of the source file: {', '.join(source['heads'])}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mmh-heads``; returns the exit code."""
    args = _parser().parse_args(argv)
    from ._file import ModelFileError
    from ._mace_spec import MaceFileError

    try:
        if args.command == "import-mace":
            from ._mace_import import import_mace

            out = import_mace(
                args.input,
                args.output,
                heads=args.heads,
                dtype=args.dtype,
                hyperparameters=args.hyperparameters,
                force=args.force,
            )
            _print_description(describe(str(out)))
        elif args.command == "export-mace":
            from ._mace_export import export_mace

            out = export_mace(args.input, args.output, python=args.python, force=args.force)
            print(f"wrote {out}")
        elif args.command == "set-meta":
            _set_meta(args)
        else:
            info = describe(args.model)
            if args.json:
                print(json.dumps(info, indent=1))
            else:
                _print_description(info)
    except (MaceFileError, ModelFileError, FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"mmh-heads: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
