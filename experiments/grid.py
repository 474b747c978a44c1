"""The ablation grid on the bundled data: block × max_L × replay fraction.

Every model is pre-trained on ``bulk`` for the same wall time (matched cost), then
fine-tuned with ``surf`` and ``mol`` heads for the same number of steps at each replay
fraction: the share of every batch drawn from a replay buffer of ``bulk`` crystals
(0 means no replay: the ``bulk`` head is kept untrained). A ``naive`` cell fine-tunes the
single ``bulk`` head on ``mol`` alone. Each cell evaluates every head on every bundled test
split, the base head on ``bulk`` training crystals (what it learnt) and on ``mol-base``
(cross-domain, same level of theory), and runs the physicality suite on the base head.

Cells run as separate processes (``--jobs`` at a time, one thread each), resume from their
last checkpoint when interrupted, and skip when their JSON exists. One JSON per cell goes
to ``--out``; models, checkpoints and logs to ``--work``.

Usage::

    uv run python experiments/grid.py --jobs 2                      # the whole grid, seed 0
    uv run python experiments/grid.py --jobs 2 --seeds 1 --max-L 1  # a second seed
    uv run python experiments/summarize.py                           # tables and plots
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPLAY_FRACTIONS = (0.0, 0.1, 0.3, 0.5)


@dataclass(frozen=True)
class Budget:
    """What every cell of one grid gets; stored in each cell's JSON."""

    pretrain_minutes: float = 5.0
    finetune_steps: int = 200
    finetune_lr: float = 0.002
    replay_pool_fraction: float = 0.5
    mol_train: int = 1000
    eval_frames: int = 200
    diatomic_points: int = 30


@dataclass(frozen=True)
class Cell:
    """One run of the grid: a pre-training, or a fine-tuning of one pre-trained model."""

    block: str
    max_L: int
    seed: int
    mode: str = "pretrain"  # "pretrain", "replay" (fraction 0: no replay) or "naive"
    replay: float | None = None
    bridging: float = 0.0  # domain-bridging structures, as a fraction of the training data
    regularize: bool = False  # selective regularisation of the heads' readouts

    @property
    def model_name(self) -> str:
        return f"{self.block}-L{self.max_L}-s{self.seed}"

    @property
    def name(self) -> str:
        if self.mode == "pretrain":
            return f"pretrain-{self.model_name}"
        if self.mode == "naive":
            return f"naive-{self.model_name}"
        extra = f"-dbs{self.bridging:g}" if self.bridging else ""
        extra += "-reg" if self.regularize else ""
        return f"replay{self.replay:g}{extra}-{self.model_name}"

    @property
    def parent(self) -> Cell:
        return Cell(self.block, self.max_L, self.seed)

    @property
    def base_head(self) -> str:
        """The head that plays the base head's part (naive: the one head, trained on mol)."""
        return "mol" if self.mode == "naive" else "bulk"


def pretrain_config(cell: Cell, budget: Budget, work: Path) -> dict:
    cfg = yaml.safe_load((HERE / "configs" / "pretrain-bulk.yaml").read_text())
    cfg["output"] = str(work / cell.name)
    cfg["seed"] = cell.seed
    cfg["model"].update(block=cell.block, max_L=cell.max_L)
    cfg["training"].update(epochs=1000, max_minutes=budget.pretrain_minutes, num_threads=1)
    cfg["logging"] = {"progress": False}
    return cfg


def finetune_config(cell: Cell, budget: Budget, work: Path) -> dict:
    cfg = yaml.safe_load((HERE / "configs" / "finetune-replay.yaml").read_text())
    cfg["output"] = str(work / cell.name)
    cfg["seed"] = cell.seed
    ft = cfg["finetune"]
    ft["model"] = str(work / cell.parent.name / "model.safetensors")
    cfg["heads"]["mol"]["max_train"] = budget.mol_train
    if cell.mode == "naive":
        ft["mode"] = "naive"
        del ft["replay"]
        del cfg["heads"]["surf"]
    elif cell.replay == 0:
        ft["mode"] = "no-replay"
        ft["replay"] = {"dataset": "bulk", "count": 1}  # only its valid/test evaluate `bulk`
    else:
        ft["replay"].pop("count")
        ft["replay"].update(fraction=budget.replay_pool_fraction, batch_share=cell.replay)
    cfg["optimizer"]["lr"] = budget.finetune_lr
    cfg["training"].update(epochs=1000, max_steps=budget.finetune_steps, num_threads=1)
    cfg["logging"] = {"progress": False}
    if cell.bridging or cell.regularize:
        add_bridging(cfg, cell, budget)
    return cfg


#: Readout regularisation of the bridging experiment: base head, and each new head.
REGULARIZATION = {"base": 1.0e-3, "new": 1.0e-4}


def add_bridging(cfg: dict, cell: Cell, budget: Budget) -> None:
    """SevenNet-Omni's ideas on top of a replay cell: the bundled ``bridge`` set (its
    structures, as a fraction of the fine-tuning data, train every head they have labels
    for) and selective regularisation of every readout towards the base readout."""
    if cell.mode != "replay" or not cell.replay:
        raise ValueError("bridging and regularisation cells build on a replay cell")
    if cell.bridging:
        from mmh_data import datasets as bundled

        n_train = len(bundled.load_atoms("surf", "train")) + budget.mol_train
        n_replay = budget.replay_pool_fraction * len(bundled.load_atoms("bulk", "train"))
        count = max(1, round(cell.bridging * (n_train + n_replay)))
        cfg["bridging"] = {
            "dataset": "bridge",
            "labels": {
                "bulk": {"level": "gfn1"},
                "surf": {"level": "gfn1"},
                "mol": {"level": "gfn2"},
            },
            "count": count,
        }
    if cell.regularize:
        cfg["finetune"]["regularization"] = {"weight": REGULARIZATION["base"], "target": "base"}
        for head in cfg["heads"].values():
            head["regularization"] = {"weight": REGULARIZATION["new"], "target": "base"}


def evaluations(cell: Cell, heads: list[str]) -> list[tuple[str, str, str]]:
    """Every head on every test split, and the base head on the ``bulk`` training split."""
    from common import TEST_SETS

    out = [(cell.base_head, "bulk", "train")]
    out += [(head, dataset, "test") for head in heads for dataset in TEST_SETS]
    return out


def physicality(model_file: Path, head: str, points: int) -> dict:
    """Physicality suite (homonuclear diatomics, slab extensivity, H additivity)."""
    from mmh_ase import MMHCalculator
    from mmh_bench import SuiteOptions, run_suite, score

    calc = MMHCalculator(str(model_file), head=head)
    options = SuiteOptions(heteronuclear=False, diatomic_points=points)
    run = run_suite(calc, ["physicality"], options=options)
    scores = score(run.results)
    return {
        "metrics": {r.name: r.metrics for r in run.results},
        "score": scores.domains["physicality"],
        "failures": run.failures,
    }


def run_cell(cell: Cell, budget: Budget, work: Path, out: Path) -> None:
    """Train (or resume) one cell, evaluate it and write its JSON."""
    from common import evaluate_model
    from mmh_heads import load_model
    from mmh_train.cli import main as mmh_train

    run_dir = work / cell.name
    results_file = run_dir / "results.json"
    if not results_file.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        make = pretrain_config if cell.mode == "pretrain" else finetune_config
        config = run_dir / "input.yaml"
        config.write_text(yaml.safe_dump(make(cell, budget, work), sort_keys=False))
        recipe = "pretrain" if cell.mode == "pretrain" else "finetune"
        args = [recipe, str(config)]
        if (run_dir / "checkpoint.pt").exists():
            args.append("--resume")
        code = mmh_train(args)
        if code != 0:
            raise SystemExit(f"{cell.name}: mmh-train exited with {code}")
    trained = json.loads(results_file.read_text())
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    wall = max((m.get("elapsed", 0.0) for m in metrics), default=0.0)
    model_file = run_dir / "model.safetensors"
    heads = load_model(model_file).heads
    result = {
        "cell": cell.name,
        **asdict(cell),
        "base_head": cell.base_head,
        "heads": heads,
        "pretrained": None if cell.mode == "pretrain" else cell.parent.name,
        "budget": asdict(budget),
        "training": {"steps": trained["steps"], "stopped": trained["stopped"], "wall_s": wall},
        "errors": evaluate_model(
            model_file, evaluations(cell, heads), max_frames=budget.eval_frames
        ),
        "physicality": physicality(model_file, cell.base_head, budget.diatomic_points),
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{cell.name}.json.tmp"
    tmp.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    tmp.replace(out / f"{cell.name}.json")


def grid_cells(args: argparse.Namespace) -> list[Cell]:
    cells = []
    for seed in args.seeds:
        for block in args.blocks:
            for max_L in args.max_L:
                cells.append(Cell(block, max_L, seed))
                cells += [Cell(block, max_L, seed, "replay", r) for r in args.replay]
                if args.naive:
                    cells.append(Cell(block, max_L, seed, "naive"))
    return cells


def _launch(cell: Cell, args: argparse.Namespace, parent: Future | None) -> str:
    if parent is not None:
        parent.result()  # raises when the pre-training failed
    log = args.work / "logs" / f"{cell.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--cell", json.dumps(asdict(cell)), *args.passthrough]
    start = time.monotonic()
    print(f"[{time.strftime('%H:%M:%S')}] start {cell.name}", flush=True)
    with log.open("a") as f:
        code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    took = (time.monotonic() - start) / 60
    if code != 0:
        raise RuntimeError(f"{cell.name} failed (exit {code}); see {log}")
    print(f"[{time.strftime('%H:%M:%S')}] done  {cell.name} in {took:.1f} min", flush=True)
    return cell.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "grid")
    parser.add_argument("--work", type=Path, default=Path("runs/grid"))
    parser.add_argument("--jobs", type=int, default=2, help="cells run at once (2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--blocks", nargs="+", default=["linear", "nonlinear"])
    parser.add_argument("--max-L", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--replay", type=float, nargs="*", default=list(REPLAY_FRACTIONS))
    parser.add_argument("--no-naive", dest="naive", action="store_false")
    for name, value in asdict(Budget()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--cell", help=argparse.SUPPRESS)  # internal: run one cell
    args = parser.parse_args()
    budget = Budget(**{k: getattr(args, k) for k in asdict(Budget())})
    args.work = args.work.resolve()
    if args.cell:
        sys.path.insert(0, str(HERE))
        run_cell(Cell(**json.loads(args.cell)), budget, args.work, args.out)
        return
    args.passthrough = ["--out", str(args.out), "--work", str(args.work)]
    for name, value in asdict(budget).items():
        args.passthrough += [f"--{name.replace('_', '-')}", str(value)]
    cells = [c for c in grid_cells(args) if not (args.out / f"{c.name}.json").exists()]
    print(f"{len(cells)} cells to run, {args.jobs} at a time; logs in {args.work / 'logs'}")
    futures: dict[str, Future] = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        # pre-trainings are queued first, so a fine-tuning waiting for its parent never
        # holds the slot the parent needs
        for cell in sorted(cells, key=lambda c: c.mode != "pretrain"):
            parent = futures.get(cell.parent.name) if cell.mode != "pretrain" else None
            futures[cell.name] = pool.submit(_launch, cell, args, parent)
    failed = [name for name, f in futures.items() if f.exception() is not None]
    for name in failed:
        print(f"failed: {futures[name].exception()}", file=sys.stderr)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
