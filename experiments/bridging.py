"""SevenNet-Omni's ablation on top of the grid's replay setting: domain-bridging set (DBS)
fraction × selective regularisation.

Each cell fine-tunes a pre-trained model of the grid (``grid.py`` must have run its
pre-training) exactly like the grid's replay cell, plus ``count`` structures of the bundled
``bridge`` set (the DBS fraction times the fine-tuning data: ``surf``, ``mol`` and the
replay buffer), each training every head it has labels for, and/or an L2 penalty on every
readout towards the base head's pre-trained readout (``grid.REGULARIZATION``). Cells and
their JSONs are the grid's (same budget, same evaluations), so ``summarize.py`` reads them.

Usage::

    uv run python experiments/bridging.py --jobs 2 --block linear --max-L 1 --replay 0.3 \\
        --seeds 0 1
    uv run python experiments/summarize.py --results experiments/results/bridging \\
        --out docs/results/bridging
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from grid import HERE, Budget, Cell, _launch

DBS_FRACTIONS = (0.0, 0.001, 0.01, 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bridging")
    parser.add_argument("--grid-out", type=Path, default=HERE / "results" / "grid")
    parser.add_argument("--work", type=Path, default=Path("runs/grid"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--block", default="linear")
    parser.add_argument("--max-L", type=int, default=1)
    parser.add_argument("--replay", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--dbs", type=float, nargs="+", default=list(DBS_FRACTIONS))
    for name, value in asdict(Budget()).items():  # keep the grid's budget to compare
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    work = args.work.resolve()
    budget = Budget(**{k: getattr(args, k) for k in asdict(Budget())})
    cells = []
    for seed in args.seeds:
        parent = Cell(args.block, args.max_L, seed)
        if not (work / parent.name / "model.safetensors").exists():
            raise SystemExit(f"pre-train {parent.name} with grid.py first")
        cells.append(parent)  # its JSON is copied from the grid's, for the ratios
        for dbs in args.dbs:
            for reg in (False, True):
                cells.append(Cell(args.block, args.max_L, seed, "replay", args.replay, dbs, reg))
    args.out.mkdir(parents=True, exist_ok=True)
    for cell in cells:
        grid_json = args.grid_out / f"{cell.name}.json"
        if not (args.out / grid_json.name).exists() and grid_json.exists():
            (args.out / grid_json.name).write_text(grid_json.read_text())
    args.work = work
    args.passthrough = ["--out", str(args.out), "--work", str(work)]
    for name, value in asdict(budget).items():
        args.passthrough += [f"--{name.replace('_', '-')}", str(value)]
    todo = [c for c in cells if not (args.out / f"{c.name}.json").exists()]
    print(f"{len(todo)} cells to run, {args.jobs} at a time; logs in {work / 'logs'}")
    futures: dict[str, Future] = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for cell in todo:
            futures[cell.name] = pool.submit(_launch, cell, args, None)
    failed = [f.exception() for f in futures.values() if f.exception() is not None]
    for error in failed:
        print(f"failed: {error}", file=sys.stderr)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
