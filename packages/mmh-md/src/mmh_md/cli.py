"""Command line of mmh-md: ``mmh-md lammps IN_FILE --model M --head H --elements Na Cl``
runs a LAMMPS input script with an mmh model as its force field (one process)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmh-md", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lmp = commands.add_parser(
        "lammps",
        help="run a LAMMPS input script through fix external",
        description=(
            "Run a LAMMPS input script (units metal) whose force field is an mmh model. The "
            "script defines 'fix mmh all external pf/callback 1 1' (or the --fix-id given) "
            "before its first run."
        ),
    )
    lmp.add_argument("input", help="LAMMPS input script")
    lmp.add_argument("--model", required=True, help="mmh model file")
    lmp.add_argument("--head", default=None, help="head (needed for a multi-head model)")
    lmp.add_argument(
        "--elements", nargs="+", required=True, help="element of each atom type, type 1 first"
    )
    lmp.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    lmp.add_argument("--device", default="cpu")
    lmp.add_argument("--fix-id", default="mmh")
    lmp.add_argument("--log", default="log.lammps", help="LAMMPS log file ('none' for none)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mmh-md``."""
    args = _parser().parse_args(argv)
    from ._lammps_external import LammpsFixExternal, run_lammps_input
    from ._lammps_module import load_lammps

    coupling = LammpsFixExternal(
        args.model,
        args.head,
        elements=args.elements,
        fix_id=args.fix_id,
        dtype=args.dtype,
        device=args.device,
    )
    lmp = load_lammps(["-log", args.log, "-nocite"], quiet=False)
    run_lammps_input(args.input, coupling, lmp)
    lmp.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
