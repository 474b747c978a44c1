"""The ablation grid on the bundled data: block × max_L × replay fraction, several seeds,
with the controls and the SevenNet-Omni cells of the claims table.

Protocol:

- Every model is pre-trained on ``bulk`` for the same number of **steps** (never a wall
  time, which depends on the load of the machine), and the model kept is the one with the
  lowest loss on the in-distribution ``valid`` split (held-out frames of the training
  families). Each cell records whether its validation force error has plateaued (under 5 %
  change over the last quarter of the run). A pre-training whose JSON has fewer steps than
  ``--pretrain-steps`` is run on from its last checkpoint: the schedule depends on the
  validation loss only, so that is the longer run.
- It is then fine-tuned with ``surf`` and ``mol`` heads for the same number of steps at
  each replay fraction: the share of every batch drawn from a replay buffer of ``bulk``
  crystals (0 means no replay: the ``bulk`` head is kept untrained). A ``naive`` cell
  fine-tunes the single ``bulk`` head on ``mol`` alone.
- Controls: ``mol-only`` and ``surf-only`` train that head alone from scratch on as many
  structures of its data as the fine-tuned head sees (``--control-lr``: at which learning
  rates); ``continue`` runs the pre-training on for the fine-tuning steps on ``bulk``
  alone; ``pooled`` trains one head on the training data of all three datasets pooled
  (each at its own level of theory) for the pre-training plus the fine-tuning steps.
- SevenNet-Omni's ideas on the replay-0.3 cell: ``--dbs`` (domain-bridging fractions) and
  ``--regularize``. ``--lr`` adds replay-0.3 cells at other learning rates, and
  ``--mol-sizes`` the mol data-size sweep at the first of them, each size with its
  ``mol-only`` control at the same rate.
- Each cell evaluates every head on the in-distribution ``test`` and the
  out-of-distribution ``ood`` splits of every bundled dataset, the base head on the ``bulk``
  training split (what it learnt) and on ``mol-base`` (cross-domain, same level of
  theory), with skill against the zero-force and per-element-linear baselines, energies
  centred per family, and per-family errors; it runs the physicality suite on the base
  head (``--diatomic-points 0``: not). Its JSON records ``best_step``, the validation
  curves, steps and CPU seconds.

Cells run as separate processes (``--jobs`` at a time, one thread each), resume from their
last checkpoint when interrupted, and skip when their JSON exists. One JSON per cell goes
to ``--out``; models, checkpoints and logs to ``--work``. The CPU seconds of a cell are
those of its completed training processes: a process that was killed is not counted.

Usage (the claims table's cells; ``experiments/relative.py`` then adds the relative
energies, ``experiments/claims.py`` writes the table)::

    uv run python experiments/grid.py --jobs 2 --seeds 0 1 2 --blocks nonlinear linear \\
        --finetune-blocks nonlinear --max-L 1 --replay 0 0.3 --no-naive \\
        --pretrain-steps 8000 --eval-frames 150 --diatomic-points 0 \\
        --control-lr default 0.002 --dbs 0.05 --regularize --lr 0.01 --mol-sizes 50 250 \\
        --continuation
    uv run python experiments/grid.py --jobs 2 --seeds 0 1 2 --blocks nonlinear \\
        --finetune-blocks none --max-L 1 2 --replay --controls --pretrain-steps 2500 \\
        --eval-frames 150 --diatomic-points 0 --out experiments/results/claims/steps2500 \\
        --work runs/grid-2500
    uv run python experiments/grid.py --jobs 2 --seeds 0 1 2 --blocks nonlinear \\
        --finetune-blocks nonlinear --max-L 1 --replay 0.3 --no-naive --controls --pooled \\
        --pretrain-steps 2500 --eval-frames 150 --diatomic-points 0 \\
        --out experiments/results/claims/steps2500 --work runs/grid-2500
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
REPLAY_FRACTIONS = (0.0, 0.1, 0.3, 0.5)
#: Control cells: the head each trains alone.
CONTROLS = {"mol-only": "mol", "surf-only": "surf"}
#: The share of each head in the batches of a replay-0.3 fine-tuning (mmh-train logs its
#: batch as {'surf': 3, 'mol': 4, 'bulk (replay)': 3}): a control trains for this share of
#: the fine-tuning steps, so that it sees as many structures of its data.
CONTROL_SHARE = {"mol": 0.4, "surf": 0.3}
#: The one head of the pooled control, and the datasets it pools.
POOLED_HEAD, POOLED = "pooled", ("bulk", "surf", "mol")


@dataclass(frozen=True)
class Budget:
    """What every cell of one grid gets; stored in each cell's JSON."""

    pretrain_steps: int = 3000
    finetune_steps: int = 600
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
    # "pretrain", "replay" (fraction 0: no replay), "naive", "continue" (the pre-training
    # continued on bulk alone for the fine-tuning steps), "pooled" (one head on the
    # training data of every dataset pooled, from scratch, for the pre-training and the
    # fine-tuning steps) or a control: "mol-only" / "surf-only" (that head alone, from
    # scratch, on as many structures as in fine-tuning)
    mode: str = "pretrain"
    replay: float | None = None
    bridging: float = 0.0  # domain-bridging structures, as a fraction of the training data
    regularize: bool = False  # selective regularisation of the heads' readouts
    mol_train: int | None = None  # training molecules (None: the budget's)
    lr: float | None = None  # learning rate (None: the recipe's, i.e. the budget's)

    @property
    def model_name(self) -> str:
        return f"{self.block}-L{self.max_L}-s{self.seed}"

    @property
    def name(self) -> str:
        extra = f"-dbs{self.bridging:g}" if self.bridging else ""
        extra += "-reg" if self.regularize else ""
        extra += f"-mol{self.mol_train}" if self.mol_train is not None else ""
        extra += f"-lr{self.lr:g}" if self.lr is not None else ""
        if self.mode == "replay":
            return f"replay{self.replay:g}{extra}-{self.model_name}"
        return f"{self.mode}{extra}-{self.model_name}"

    @property
    def independent(self) -> bool:
        """Trained from scratch (no pre-trained parent)."""
        return self.mode in ("pretrain", "pooled", *CONTROLS)

    @property
    def parent(self) -> Cell:
        return Cell(self.block, self.max_L, self.seed)

    @property
    def base_head(self) -> str:
        """The head that plays the base head's part (naive: the one head, trained on mol;
        a control: its one head)."""
        if self.mode in CONTROLS:
            return CONTROLS[self.mode]
        return {"naive": "mol", "pooled": POOLED_HEAD}.get(self.mode, "bulk")

    def molecules(self, budget: Budget) -> int:
        return budget.mol_train if self.mol_train is None else self.mol_train


def pretrain_config(cell: Cell, budget: Budget, work: Path) -> dict:
    cfg = yaml.safe_load((HERE / "configs" / "pretrain-bulk.yaml").read_text())
    cfg["output"] = str(work / cell.name)
    cfg["seed"] = cell.seed
    cfg["model"].update(block=cell.block, max_L=cell.max_L)
    cfg["training"].update(
        epochs=100000, max_steps=budget.pretrain_steps, max_minutes=None, num_threads=1
    )
    cfg["logging"] = {"progress": False}
    return cfg


def control_config(cell: Cell, budget: Budget, work: Path) -> dict:
    """One head alone (``mol`` or ``surf``), trained from scratch with the architecture and
    optimiser of the pre-trained models on as many structures of its data as the head sees
    in fine-tuning (`CONTROL_SHARE`): the single-domain contrast of the cross-learning
    claims."""
    cfg = pretrain_config(cell, budget, work)
    head = CONTROLS[cell.mode]
    data = {"dataset": head, "e0s": "average"}
    if head == "mol":
        data["max_train"] = cell.molecules(budget)
    cfg["heads"] = {head: data}
    cfg["training"]["max_steps"] = round(budget.finetune_steps * CONTROL_SHARE[head])
    if cell.lr is not None:
        cfg["optimizer"]["lr"] = cell.lr
    return cfg


def pooled_config(cell: Cell, budget: Budget, work: Path) -> dict:
    """One head on the training structures of ``bulk``, ``surf`` and the fine-tuning's
    ``mol`` subset pooled in one file, labels at their own levels of theory, trained from
    scratch for the pre-training plus the fine-tuning steps: the single-head contrast of
    the multi-head design."""
    from ase.io import write
    from mmh_data import datasets as bundled

    cfg = pretrain_config(cell, budget, work)
    run_dir = work / cell.name
    files = {}
    for split in ("train", "valid"):
        frames = []
        for dataset in POOLED:
            atoms = bundled.load_atoms(dataset, split)
            if dataset == "mol" and split == "train":
                atoms = [
                    atoms[k] for k in mol_subset(len(atoms), cell.molecules(budget), cell.seed)
                ]
            frames += atoms
        files[split] = run_dir / f"pooled-{split}.extxyz"
        if not files[split].exists():
            write(files[split], frames, format="extxyz")
    keys = bundled.metadata("bulk")["keys"]
    cfg["heads"] = {
        POOLED_HEAD: {
            "train": [str(files["train"])],
            "valid": [str(files["valid"])],
            "keys": {"energy": keys["energy"], "forces": keys["forces"], "stress": keys["stress"]},
            "e0s": "average",
        }
    }
    cfg["training"]["max_steps"] = budget.pretrain_steps + budget.finetune_steps
    return cfg


def mol_subset(n: int, size: int, seed: int) -> list[int]:
    """The indices of the ``max_train`` subset mmh-train draws for a head of ``n``
    structures (the same rule, so the pooled control trains on the molecules of the
    fine-tuning)."""
    if size >= n:
        return list(range(n))
    order = np.random.default_rng([seed, 17]).permutation(n)
    return [int(k) for k in np.sort(order[:size])]


def continue_config(cell: Cell, budget: Budget, work: Path) -> dict:
    """The pre-training's own configuration, run on for the fine-tuning steps (it resumes
    from a copy of the pre-training's last checkpoint): the bulk-only continuation."""
    cfg = pretrain_config(cell.parent, budget, work)
    cfg["output"] = str(work / cell.name)
    cfg["training"]["max_steps"] = budget.pretrain_steps + budget.finetune_steps
    return cfg


def finetune_config(cell: Cell, budget: Budget, work: Path) -> dict:
    cfg = yaml.safe_load((HERE / "configs" / "finetune-replay.yaml").read_text())
    cfg["output"] = str(work / cell.name)
    cfg["seed"] = cell.seed
    ft = cfg["finetune"]
    ft["model"] = str(work / cell.parent.name / "model.safetensors")
    cfg["heads"]["mol"]["max_train"] = cell.molecules(budget)
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
    cfg["optimizer"]["lr"] = budget.finetune_lr if cell.lr is None else cell.lr
    cfg["training"].update(
        epochs=100000, max_steps=budget.finetune_steps, max_minutes=None, num_threads=1
    )
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

        n_train = len(bundled.load_atoms("surf", "train")) + cell.molecules(budget)
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
    """Every head on the in-distribution and out-of-distribution splits of every dataset,
    and the base head on the ``bulk`` training split."""
    from common import TEST_SETS
    from mmh_data import datasets as bundled

    out = [(cell.base_head, "bulk", "train")]
    for head in heads:
        for dataset in TEST_SETS:
            out += [
                (head, dataset, split)
                for split in ("test", "ood")
                if split in bundled.metadata(dataset)["splits"]
            ]
    return out


def curves(metrics: list[dict]) -> dict[str, dict[str, list]]:
    """Validation curves per head: steps and force and energy MAEs."""
    out: dict[str, dict[str, list]] = {}
    for m in metrics:
        if m.get("kind") != "valid":
            continue
        c = out.setdefault(m["head"], {"step": [], "forces_mae": [], "energy_mae": []})
        c["step"].append(m["step"])
        c["forces_mae"].append(m.get("forces_mae"))
        c["energy_mae"].append(m.get("energy_mae"))
    return out


def plateau(curve: dict[str, list], tolerance: float = 0.05) -> dict:
    """Whether the best validation force error changed by less than ``tolerance`` over the
    last quarter of the run (the change of the running minimum)."""
    steps, values = curve["step"], curve["forces_mae"]
    if len(values) < 4 or any(v is None for v in values):
        return {"reached": False, "change": None}
    best = np.minimum.accumulate(np.array(values, dtype=float))
    cut = int(np.searchsorted(steps, steps[-1] * 0.75))
    change = float((best[cut] - best[-1]) / best[cut])
    return {"reached": change < tolerance, "change": change}


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
    if cell.mode == "pretrain" and results_file.exists():
        done = json.loads(results_file.read_text())
        if done["stopped"] == "last step" and done["steps"] < budget.pretrain_steps:
            # a larger budget: the run goes on from its last checkpoint (the schedule
            # depends on the validation loss only, so this is the longer run)
            results_file.unlink()
        elif done["steps"] > budget.pretrain_steps:
            raise SystemExit(
                f"{run_dir} holds a pre-training of {done['steps']} steps, more than the "
                f"budget's {budget.pretrain_steps}; use another --work"
            )
    if cell.mode == "continue" and not run_dir.exists():
        parent = work / cell.parent.name
        run_dir.mkdir(parents=True)
        for name in ("checkpoint.pt", "metrics.jsonl", "model.safetensors", "cpu_s.json"):
            shutil.copy2(parent / name, run_dir / name)
    if not results_file.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        make = {
            "pretrain": pretrain_config,
            "continue": continue_config,
            "pooled": pooled_config,
            **dict.fromkeys(CONTROLS, control_config),
        }.get(cell.mode, finetune_config)
        config = run_dir / "input.yaml"
        config.write_text(yaml.safe_dump(make(cell, budget, work), sort_keys=False))
        recipe = "finetune" if make is finetune_config else "pretrain"
        args = [recipe, str(config)]
        if (run_dir / "checkpoint.pt").exists():
            args.append("--resume")
        cpu = time.process_time()
        code = mmh_train(args)
        if code != 0:
            raise SystemExit(f"{cell.name}: mmh-train exited with {code}")
        # CPU seconds of this (last) training process; a resumed run adds its earlier part
        spent = run_dir / "cpu_s.json"
        before = json.loads(spent.read_text())["cpu_s"] if spent.exists() else 0.0
        spent.write_text(json.dumps({"cpu_s": before + time.process_time() - cpu}))
    trained = json.loads(results_file.read_text())
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    wall = max((m.get("elapsed", 0.0) for m in metrics), default=0.0)
    cpu_file = run_dir / "cpu_s.json"
    cpu_s = json.loads(cpu_file.read_text())["cpu_s"] if cpu_file.exists() else None
    valid_curves = curves(metrics)
    model_file = run_dir / "model.safetensors"
    heads = load_model(model_file).heads
    result = {
        "cell": cell.name,
        **asdict(cell),
        "mol_train": cell.molecules(budget),
        "base_head": cell.base_head,
        "heads": heads,
        "pretrained": None if cell.independent else cell.parent.name,
        "budget": asdict(budget),
        "training": {
            "steps": trained["steps"],
            "best_step": trained["best_step"],
            "stopped": trained["stopped"],
            "wall_s": wall,
            "cpu_s": cpu_s,
            "curves": valid_curves,
            "plateau": {h: plateau(c) for h, c in valid_curves.items()},
        },
        "errors": evaluate_model(
            model_file, evaluations(cell, heads), max_frames=budget.eval_frames
        ),
        "physicality": (
            physicality(model_file, cell.base_head, budget.diatomic_points)
            if budget.diatomic_points
            else None
        ),
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
                if args.finetune_blocks is not None and block not in args.finetune_blocks:
                    continue  # pre-training only
                cells += [Cell(block, max_L, seed, "replay", r) for r in args.replay]
                if args.naive:
                    cells.append(Cell(block, max_L, seed, "naive"))
                cells += [
                    Cell(block, max_L, seed, mode, lr=lr)
                    for mode in args.controls
                    for lr in args.control_lr
                ]
                # SevenNet-Omni's ideas, on the replay-0.3 cell
                cells += [Cell(block, max_L, seed, "replay", 0.3, bridging=f) for f in args.dbs]
                if args.regularize:
                    cells.append(Cell(block, max_L, seed, "replay", 0.3, regularize=True))
                # fine-tuning at other learning rates, and the mol data-size sweep (with its
                # single-head controls) at the first of them
                cells += [Cell(block, max_L, seed, "replay", 0.3, lr=lr) for lr in args.lr]
                sweep_lr = args.lr[0] if args.lr else None
                for n in args.mol_sizes:
                    cells.append(Cell(block, max_L, seed, "replay", 0.3, mol_train=n, lr=sweep_lr))
                    if "mol-only" in args.controls:
                        cells.append(Cell(block, max_L, seed, "mol-only", mol_train=n, lr=sweep_lr))
                if args.continuation:
                    cells.append(Cell(block, max_L, seed, "continue"))
                if args.pooled:
                    cells.append(Cell(block, max_L, seed, "pooled"))
    return cells


def _done(cell: Cell, budget: Budget, out: Path) -> bool:
    """Whether the cell's JSON exists (for a pre-training: at this budget of steps; a
    shorter one is run on)."""
    path = out / f"{cell.name}.json"
    if not path.exists():
        return False
    return cell.mode != "pretrain" or (
        json.loads(path.read_text())["training"]["steps"] >= budget.pretrain_steps
    )


def _lr(text: str) -> float | None:
    return None if text == "default" else float(text)


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
    parser.add_argument("--out", type=Path, default=HERE / "results" / "claims")
    parser.add_argument("--work", type=Path, default=Path("runs/grid"))
    parser.add_argument("--jobs", type=int, default=2, help="cells run at once (2)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--blocks", nargs="+", default=["linear", "nonlinear"])
    parser.add_argument("--max-L", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--replay", type=float, nargs="*", default=list(REPLAY_FRACTIONS))
    parser.add_argument("--no-naive", dest="naive", action="store_false")
    parser.add_argument(
        "--finetune-blocks", nargs="+", default=None, help="fine-tune and control these only"
    )
    parser.add_argument("--controls", nargs="*", default=list(CONTROLS), choices=list(CONTROLS))
    parser.add_argument(
        "--control-lr",
        type=_lr,
        nargs="+",
        default=[None],
        help="learning rates of the controls ('default': the pre-training's)",
    )
    parser.add_argument("--dbs", type=float, nargs="*", default=[], help="bridging fractions")
    parser.add_argument("--regularize", action="store_true", help="a regularised cell")
    parser.add_argument(
        "--lr", type=float, nargs="*", default=[], help="replay-0.3 cells at these rates"
    )
    parser.add_argument(
        "--mol-sizes", type=int, nargs="*", default=[], help="mol data-size sweep (and controls)"
    )
    parser.add_argument("--continuation", action="store_true", help="bulk-only continuation")
    parser.add_argument("--pooled", action="store_true", help="the pooled single-head control")
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
    cells = [c for c in grid_cells(args) if not _done(c, budget, args.out)]
    print(f"{len(cells)} cells to run, {args.jobs} at a time; logs in {args.work / 'logs'}")
    futures: dict[str, Future] = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        # pre-trainings are queued first, so a fine-tuning waiting for its parent never
        # holds the slot the parent needs
        for cell in sorted(cells, key=lambda c: c.mode != "pretrain"):
            parent = None if cell.independent else futures.get(cell.parent.name)
            futures[cell.name] = pool.submit(_launch, cell, args, parent)
    failed = [name for name, f in futures.items() if f.exception() is not None]
    for name in failed:
        print(f"failed: {futures[name].exception()}", file=sys.stderr)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
