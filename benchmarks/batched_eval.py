"""Throughput of batched evaluation: one batch of 16 systems against 16 single ASE calls.

The same model evaluates the same 16 structures (energy, forces and stress) two ways, side by
side in one process:

- **single**: ``MMHCalculator`` through ASE, one structure per call (neighbour list, graph,
  one forward and backward pass each);
- **batched**: ``mmh_ase.BatchEvaluator``, all 16 structures in one model call;
- **torch-sim** (when torch-sim is installed): ``mmh_md.MMHTorchSimModel`` on one
  ``SimState`` of the 16 systems, neighbour list built with torch.

The structures are a mix of small crystals (NaCl, Al, Si, Fe, rattled, 8 to 64 atoms) and
molecules; the model is a small mmh MACE (two layers, 32 channels, L=1, r_max 5 Å, float64
by default). Structures per second are medians over ``--repeat`` timings after a warm-up (wall
time, and process CPU time, less sensitive to other load on a shared machine); the ratio
batched / single is printed on the last line.

Usage::

    uv run python benchmarks/batched_eval.py [--repeat 5] [--threads 2] [--dtype float64]
        [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk
from ase.build import molecule as ase_molecule
from mmh_ase import BatchEvaluator, MMHCalculator
from mmh_heads import ModelConfig, MultiHeadMACE
from mmh_layers import BackboneConfig

ELEMENTS = (1, 6, 7, 8, 11, 13, 14, 17, 26)


def model(dtype: torch.dtype) -> MultiHeadMACE:
    """A small random mmh model (the speed, not the accuracy, is measured)."""
    torch.manual_seed(0)
    config = ModelConfig(
        BackboneConfig(
            elements=ELEMENTS,
            channels=32,
            max_L=1,
            max_ell=2,
            correlation=3,
            r_max=5.0,
            num_bessel=8,
            radial_mlp=(32, 32),
        ),
        heads=("pbe",),
        zbl=True,
    )
    return MultiHeadMACE(config, dtype=dtype)


def structures() -> list[Atoms]:
    """16 structures: crystals of 8-64 atoms and molecules (in vacuum boxes, since a
    torch-sim state has one periodicity for all its systems)."""
    rng = np.random.default_rng(0)
    crystals = [
        bulk("NaCl", "rocksalt", a=5.64, cubic=True),
        bulk("Al", "fcc", a=4.05, cubic=True) * (2, 2, 2),
        bulk("Si", "diamond", a=5.43, cubic=True),
        bulk("Fe", "bcc", a=2.87, cubic=True) * (2, 2, 2),
        bulk("NaCl", "rocksalt", a=5.64, cubic=True) * (2, 1, 1),
        bulk("Al", "fcc", a=4.05, cubic=True) * (2, 2, 1),
    ]
    out = []
    for k in range(10):
        atoms = crystals[k % len(crystals)].copy()
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        out.append(atoms)
    for name in ("H2O", "CH4", "C6H6", "CH3OH", "NH3", "C2H6"):
        mol = ase_molecule(name)
        mol.cell = [12.0, 12.0, 12.0]  # periodic vacuum box: images beyond the cutoff
        mol.pbc = True
        mol.center()
        out.append(mol)
    return out


def _median_time(fn, repeat: int) -> tuple[float, float]:
    """Median wall time and median process CPU time of ``fn``, after a warm-up call."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    net = model(dtype)
    frames = structures()
    calc = MMHCalculator(net, device=args.device)

    def single() -> None:
        for atoms in frames:
            work = atoms.copy()
            work.calc = calc
            work.get_potential_energy()
            work.get_forces()
            work.get_stress()

    evaluator = BatchEvaluator(calc)

    def batched() -> None:
        evaluator(frames)

    n = len(frames)
    figures = {
        "structures": n,
        "atoms": sum(len(a) for a in frames),
        "threads": args.threads,
        "dtype": args.dtype,
        "device": args.device,
    }
    figures["single_s"], figures["single_cpu_s"] = _median_time(single, args.repeat)
    figures["batched_s"], figures["batched_cpu_s"] = _median_time(batched, args.repeat)
    try:
        import torch_sim as ts
        from mmh_md import MMHTorchSimModel

        ts_model = MMHTorchSimModel(calc)
        state = ts.io.atoms_to_state(frames, ts_model.device, ts_model.dtype)
        timed = _median_time(lambda: ts_model(state), args.repeat)
        figures["torch_sim_s"], figures["torch_sim_cpu_s"] = timed
    except ImportError:
        figures["torch_sim_s"] = figures["torch_sim_cpu_s"] = None

    print(
        f"{n} structures, {figures['atoms']} atoms, {args.dtype}, {args.device}, "
        f"{args.threads} threads; energy + forces + stress"
    )
    print(f"{'':28s}{'wall s':>9s}{'structures/s':>14s}{'CPU s':>9s}")
    rows = [("16 single ASE calls", "single"), ("one batch of 16", "batched")]
    if figures["torch_sim_s"] is not None:
        rows.append(("torch-sim model, 16 systems", "torch_sim"))
    for label, key in rows:
        wall, cpu = figures[f"{key}_s"], figures[f"{key}_cpu_s"]
        print(f"{label:28s}{wall:9.4f}{n / wall:14.1f}{cpu:9.4f}")
    figures["ratio_batched_over_single"] = figures["single_s"] / figures["batched_s"]
    figures["cpu_ratio_batched_over_single"] = figures["single_cpu_s"] / figures["batched_cpu_s"]
    print(
        f"throughput ratio batched / single: {figures['ratio_batched_over_single']:.2f}x "
        f"(wall time), {figures['cpu_ratio_batched_over_single']:.2f}x (CPU time)"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
