"""Steps per second of the mmh ASE calculator against mace-torch 0.3.16's, side by side.

Both calculators evaluate the same model on the same crystal: the speed benchmark's settings
(``BENCHMARK_SPEC`` in ``_reference.py``: 1000-atom carbon fcc crystal with a = 3.8 Å,
r_max 6 Å, float32, CPU, 2 threads, 128x0e+128x1o channels, the MACE-MH-1 non-linear block
with its options, 89 elements, ZBL, one head). A step moves the atoms by 1e-3 Å and asks for
energy and forces, so each step includes the neighbour list and graph construction; "no
graph" times the model alone on a graph built once. Both calculators compute energy, forces
and stress in one evaluation (mace-torch's always computes the stress; mmh's does for any
structure with a three-dimensional cell).

The mmh side is ``mmh_bench.speed`` on an ``mmh_ase.MMHCalculator``; the mace-torch side is
``reference/mace_calc_worker.py`` in the isolated reference environment.

Usage::

    uv run python benchmarks/calculator_speed.py [--steps 5] [--warmup 1] [--threads 2]
        [--repeat 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from _reference import (
    BENCHMARK_SPEC,
    MACE_VERSION,
    ReferenceEnvError,
    ensure_reference_env,
    reference_env_vars,
)
from mmh_ase import MMHCalculator
from mmh_bench.speed import carbon_fcc, speed
from mmh_heads import ModelConfig, MultiHeadMACE
from mmh_layers import BackboneConfig

WORKER = Path(__file__).resolve().parent / "reference" / "mace_calc_worker.py"
MH1_ELEMENTS = (*range(1, 84), *range(89, 95))


def mmh_calculator(threads: int) -> MMHCalculator:
    """The benchmark model (the reference's hyper-parameters) in the mmh calculator."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    channels = int(BENCHMARK_SPEC["hidden_irreps"].split("x")[0])
    backbone = BackboneConfig(
        elements=MH1_ELEMENTS,
        block="nonlinear",
        channels=channels,
        max_L=1,
        edge_channels=channels,
        num_bessel=10,
        r_max=BENCHMARK_SPEC["r_max"],
        distance_transform="agnesi",
        agnostic_product=True,
    )
    config = ModelConfig(backbone, heads=("Default",), readout_hidden=16, zbl=True, zbl_p=5)
    model = MultiHeadMACE(config, dtype=torch.float32)
    return MMHCalculator(model, dtype=BENCHMARK_SPEC["dtype"])


def structure(repeat: int):
    """The crystal of ``BENCHMARK_SPEC`` (``repeat`` primitive cells along each axis)."""
    s = BENCHMARK_SPEC["structure"]
    assert not s["cubic"] and s["symbol"] == "C" and s["crystal"] == "fcc"
    return carbon_fcc(repeat**3, a=s["a"])


def run_mace(steps: int, warmup: int, threads: int, repeat: int, nice: int) -> dict:
    python = ensure_reference_env()
    spec = {
        **BENCHMARK_SPEC,
        "block": "nonlinear",
        "num_threads": threads,
        "repeats": steps,
        "warmup": warmup,
        "structure": {**BENCHMARK_SPEC["structure"], "repeat": [repeat] * 3},
    }
    command = [str(python), str(WORKER)]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    proc = subprocess.run(
        command, input=json.dumps(spec), capture_output=True, text=True, env=reference_env_vars()
    )
    if proc.returncode != 0:
        raise ReferenceEnvError(f"the reference worker failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=BENCHMARK_SPEC["num_threads"])
    parser.add_argument("--nice", type=int, default=0, help="niceness for both codes")
    parser.add_argument(
        "--repeat",
        type=int,
        default=BENCHMARK_SPEC["structure"]["repeat"][0],
        help="primitive cells along each axis (10: the 1000-atom crystal; less for a quick try)",
    )
    parser.add_argument("--json", type=Path, help="also write all figures to this file")
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)
    load = os.getloadavg()
    print(
        f"torch {torch.__version__}, {args.threads} threads, float32, CPU; "
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    atoms = structure(args.repeat)
    calc = mmh_calculator(args.threads)
    params = sum(p.numel() for p in calc.model.parameters())
    t0 = time.perf_counter()
    # a step asks for energy, forces and stress: the work of MACECalculator (for a periodic
    # structure the mmh calculator computes the stress with the forces, in one evaluation)
    ours = speed(calc, atoms=atoms, steps=args.steps, warmup=args.warmup, stress=True)
    m = ours.metrics
    print(
        f"mmh: {m['seconds_per_step']:.2f} s/step wall, {m['cpu_seconds_per_step']:.2f} s CPU; "
        f"no graph {1 / m['steps_per_s_no_graph']:.2f} s; graph {m['graph_seconds']:.3f} s "
        f"[{time.perf_counter() - t0:.0f} s]",
        flush=True,
    )
    t0 = time.perf_counter()
    ref = run_mace(args.steps, args.warmup, args.threads, args.repeat, nice=0)
    print(
        f"mace-torch {MACE_VERSION}: {ref['seconds_per_step']:.2f} s/step wall, "
        f"{ref['cpu_seconds_per_step']:.2f} s CPU; no graph {ref['no_graph_seconds_per_step']:.2f}"
        f" s; graph {ref['graph_seconds']:.3f} s [{time.perf_counter() - t0:.0f} s]",
        flush=True,
    )
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print()
    print(
        f"{len(atoms)} atoms, {ours.data['num_edges']} edges (mace-torch: {ref['num_edges']}); "
        f"parameters mmh {params:,} / mace-torch {ref['num_parameters']:,}"
    )
    print()
    print("| calculator | steps/s | s/step (CPU s) | no graph: steps/s (CPU s) | graph build s |")
    print("|---|---|---|---|---|")
    print(
        f"| mmh MMHCalculator | {m['steps_per_s']:.4f} | {m['seconds_per_step']:.2f} "
        f"({m['cpu_seconds_per_step']:.2f}) | {m['steps_per_s_no_graph']:.4f} "
        f"({statistics.median(ours.data['no_graph_cpu_seconds']):.2f}) "
        f"| {m['graph_seconds']:.3f} |"
    )
    print(
        f"| mace-torch {MACE_VERSION} MACECalculator | {1 / ref['seconds_per_step']:.4f} "
        f"| {ref['seconds_per_step']:.2f} ({ref['cpu_seconds_per_step']:.2f}) "
        f"| {1 / ref['no_graph_seconds_per_step']:.4f} "
        f"({ref['no_graph_cpu_seconds_per_step']:.2f}) | {ref['graph_seconds']:.3f} |"
    )
    print()
    print(
        "speed-up of mmh over mace-torch: "
        f"{ref['seconds_per_step'] / m['seconds_per_step']:.2f}x wall, "
        f"{ref['cpu_seconds_per_step'] / m['cpu_seconds_per_step']:.2f}x CPU; without graph "
        f"{ref['no_graph_seconds_per_step'] * m['steps_per_s_no_graph']:.2f}x wall"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"mmh": ours.to_dict(), "mace_torch": ref, "load_after": load},
                indent=1,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
