"""Training speed and memory of ``mmh-train`` against mace-torch 0.3.16's ``mace_run_train``.

Both programs train the same model on the same extxyz file, one after the other in this
script: periodic 32-atom fcc alloy cells (Al, Ni, Cu, Pd, Ag, Au; strained and rattled)
labelled with ASE's EMT potential (energy, forces, stress), 10 % held out for validation.
Identical hyper-parameters: 64x0e+64x1o node and edge channels, max_ell 3, correlation 3,
two interactions, 8 Bessel functions, radial MLP [64, 64, 64], r_max 5 Å, batch 10,
float32, CPU, 2 threads, AMSGrad Adam, EMA 0.99, Huber loss on energy/forces/stress with
weights 1/10/10 and delta 0.01. The non-linear block uses the MACE-MH-1 options (Agnesi
transform, envelope after the radial MLP, agnostic product); the linear block the original
MACE ones.

Reported per program and block: the time of the first epoch (training plus one validation
pass, from each program's own log), configurations per second, the peak resident memory of
the whole process and its total CPU time (start-up and data preparation included; less
sensitive than wall time to other load on the machine). mace-torch runs in its own virtual
environment (``_reference.py``).

Usage::

    uv run python benchmarks/train_speed.py [--cells 500] [--blocks linear nonlinear]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import ase.io
import numpy as np
import yaml
from _reference import MACE_VERSION, REPO_ROOT, ensure_reference_env, reference_env_vars
from ase.build import bulk
from ase.calculators.emt import EMT

WORK = REPO_ROOT / "runs" / "benchmark-train"
ELEMENTS = ("Al", "Ni", "Cu", "Pd", "Ag", "Au")
LATTICE = {"Al": 4.05, "Ni": 3.52, "Cu": 3.61, "Pd": 3.89, "Ag": 4.09, "Au": 4.08}

# Peak RSS of a child process: run it under a tiny wrapper that reports RUSAGE_CHILDREN.
_WRAPPER = (
    "import resource, subprocess, sys, json;"
    "rc = subprocess.call(sys.argv[1:]);"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
    "print(json.dumps({'rc': rc, 'maxrss_kib': u.ru_maxrss, 'cpu_s': u.ru_utime + u.ru_stime}))"
)


def make_cells(path: Path, count: int, seed: int = 0) -> Path:
    """Write ``count`` EMT-labelled 32-atom alloy cells to ``path`` (extxyz)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        pair = rng.choice(ELEMENTS, size=2, replace=False)
        atoms = bulk("Cu", "fcc", a=1.0, cubic=True).repeat((2, 2, 2))
        symbols = rng.choice(pair, size=len(atoms))
        a = float(np.mean([LATTICE[s] for s in symbols]))
        atoms.set_chemical_symbols(symbols)
        strain = np.eye(3) + rng.normal(scale=0.02, size=(3, 3))
        atoms.set_cell(atoms.cell * a @ strain, scale_atoms=True)
        atoms.rattle(0.08, seed=int(rng.integers(1 << 31)))
        atoms.calc = EMT()
        atoms.info["REF_energy"] = atoms.get_potential_energy()
        atoms.arrays["REF_forces"] = atoms.get_forces()
        atoms.info["REF_stress"] = atoms.get_stress()
        atoms.calc = None
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")
    return path


def _measure(command: list[str], env: dict[str, str], log: Path) -> dict:
    with open(log, "w") as fh:
        out = subprocess.run(
            [sys.executable, "-c", _WRAPPER, *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=fh,
            text=True,
            check=True,
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise RuntimeError(f"{command[0]} failed; see {log}")
    return result


def run_mmh(block: str, data: Path, out: Path, threads: int) -> dict:
    """Train one epoch with ``mmh-train``; returns timing and memory."""
    nonlinear = block == "nonlinear"
    config = {
        "output": str(out),
        "seed": 0,
        "dtype": "float32",
        "device": "cpu",
        "model": {
            "block": block,
            "channels": 64,
            "max_L": 1,
            "max_ell": 3,
            "correlation": 3,
            "num_interactions": 2,
            "r_max": 5.0,
            "num_bessel": 8,
            "radial_mlp": [64, 64, 64],
            "distance_transform": "agnesi" if nonlinear else None,
            "agnostic_product": nonlinear,
        },
        "heads": {"Default": {"train": [str(data)], "valid_fraction": 0.1, "e0s": "average"}},
        "loss": {"energy_weight": 1.0, "forces_weight": 10.0, "stress_weight": 10.0},
        "optimizer": {"lr": 0.01, "ema_decay": 0.99},
        "training": {
            "epochs": 1,
            "batch_size": 10,
            "valid_batch_size": 10,
            "num_threads": threads,
            "checkpoint_every": 1000,
        },
        "logging": {"progress": False, "tensorboard": False, "plots": False},
    }
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out.with_suffix(".yaml")
    cfg_path.write_text(yaml.safe_dump(config))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    mmh_train = Path(sys.executable).with_name("mmh-train")
    usage = _measure([str(mmh_train), "pretrain", str(cfg_path)], env, out.with_suffix(".log"))
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epoch = next(r for r in records if r["kind"] == "valid_combined")
    n_train = next(r for r in records if r["kind"] == "setup")["train_sizes"]["Default"]
    return {"epoch_s": epoch["elapsed"], "n_train": n_train, **usage}


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) INFO: (Initial|Epoch 0):")


def run_mace(block: str, data: Path, out: Path, threads: int) -> dict:
    """Train one epoch with mace-torch's ``mace_run_train``; returns timing and memory."""
    python = ensure_reference_env(quiet=True)
    mace_run_train = python.with_name("mace_run_train")
    nonlinear = block == "nonlinear"
    cls = (
        "RealAgnosticResidualNonLinearInteractionBlock"
        if nonlinear
        else "RealAgnosticResidualInteractionBlock"
    )
    out.mkdir(parents=True, exist_ok=True)
    command = [
        str(mace_run_train),
        "--name=bench",
        f"--work_dir={out}",
        f"--train_file={data}",
        "--valid_fraction=0.1",
        "--E0s=average",
        "--energy_key=REF_energy",
        "--forces_key=REF_forces",
        "--stress_key=REF_stress",
        "--model=MACE",
        f"--interaction={cls}",
        f"--interaction_first={cls}",
        "--hidden_irreps=64x0e+64x1o",
        "--edge_irreps=64x0e+64x1o",
        "--use_edge_irreps_first=True",
        "--max_ell=3",
        "--correlation=3",
        "--num_interactions=2",
        "--num_radial_basis=8",
        "--radial_MLP=[64, 64, 64]",
        "--r_max=5.0",
        f"--distance_transform={'Agnesi' if nonlinear else 'None'}",
        f"--apply_cutoff={not nonlinear}",
        f"--use_agnostic_product={nonlinear}",
        "--batch_size=10",
        "--valid_batch_size=10",
        "--max_num_epochs=1",
        "--default_dtype=float32",
        "--device=cpu",
        "--loss=universal",
        "--energy_weight=1.0",
        "--forces_weight=10.0",
        "--stress_weight=10.0",
        "--huber_delta=0.01",
        "--compute_stress=True",
        "--lr=0.01",
        "--ema",
        "--ema_decay=0.99",
        "--seed=0",
        "--num_workers=0",
        "--save_cpu",
    ]
    env = {**reference_env_vars(), "OMP_NUM_THREADS": str(threads)}
    usage = _measure(command, env, out.with_suffix(".log"))
    stamps = {}
    for log in (out / "logs").glob("*.log"):
        for line in log.read_text().splitlines():
            m = _STAMP.match(line)
            if m and m.group(2) not in stamps:
                stamps[m.group(2)] = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
    epoch_s = (stamps["Epoch 0"] - stamps["Initial"]).total_seconds()
    return {"epoch_s": epoch_s, **usage}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--blocks", nargs="+", default=["linear", "nonlinear"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / f"cells-{args.cells}.xyz"
    if not data.exists():
        make_cells(data, args.cells)
    n_train = args.cells - round(0.1 * args.cells)
    print(f"{args.cells} EMT-labelled 32-atom cells ({n_train} train), {args.threads} threads")
    rows = []
    for block in args.blocks:
        mmh = run_mmh(block, data, WORK / f"mmh-{block}", args.threads)
        mace = run_mace(block, data, WORK / f"mace-{block}", args.threads)
        row = {
            "block": block,
            "mmh_epoch_s": mmh["epoch_s"],
            "mace_epoch_s": mace["epoch_s"],
            "mmh_configs_per_s": mmh["n_train"] / mmh["epoch_s"],
            "mace_configs_per_s": n_train / mace["epoch_s"],
            "mmh_process_cpu_s": mmh["cpu_s"],
            "mace_process_cpu_s": mace["cpu_s"],
            "mmh_peak_rss_gib": mmh["maxrss_kib"] / 2**20,
            "mace_peak_rss_gib": mace["maxrss_kib"] / 2**20,
        }
        row["speed_ratio"] = row["mmh_configs_per_s"] / row["mace_configs_per_s"]
        row["memory_ratio"] = row["mmh_peak_rss_gib"] / row["mace_peak_rss_gib"]
        rows.append(row)
        print(
            f"{block:>9}: mmh {row['mmh_epoch_s']:7.1f} s/epoch "
            f"{row['mmh_configs_per_s']:6.2f} cfg/s {row['mmh_peak_rss_gib']:5.2f} GiB | "
            f"mace-torch {MACE_VERSION} {row['mace_epoch_s']:7.1f} s/epoch "
            f"{row['mace_configs_per_s']:6.2f} cfg/s {row['mace_peak_rss_gib']:5.2f} GiB | "
            f"speed x{row['speed_ratio']:.2f}, memory x{row['memory_ratio']:.2f} | "
            f"whole-process CPU time mmh {row['mmh_process_cpu_s']:.0f} s, "
            f"mace-torch {row['mace_process_cpu_s']:.0f} s",
            flush=True,
        )
    (WORK / "results.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
