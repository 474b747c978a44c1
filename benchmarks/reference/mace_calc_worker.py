"""Reference worker: steps per second of mace-torch 0.3.16's ASE calculator (``MACECalculator``).

Runs in the isolated reference environment (see ``benchmarks/_reference.py``), like
``mace_worker.py``, whose spec format, defaults and model builder it reuses: the spec keys
are those of ``mace_worker.py`` (``task`` is ignored; ``repeats`` timed steps after
``warmup`` steps; ``compute_stress`` is ignored because ``MACECalculator`` always computes
the stress of a MACE model) plus ``seed``, which also seeds the step displacement.

What is timed, as in ``mmh_bench.speed``: each step moves every atom by 1e-3 Å (a fixed
random direction per atom, alternating in sign, so the calculator cannot answer from its
cache and rebuilds the graph) and asks for the energy and the forces. "No graph" times the
model alone on a graph built once by the calculator's own ``_atoms_to_batch`` (a private
method of mace-torch, used here because the calculator has no public way to reuse a graph),
called as ``MACECalculator.calculate`` calls it.

It prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mace_worker import (
    build_model,
    build_structure,
    configure_threads,
    peak_rss_kib,
    read_spec,
)

STEP_DISPLACEMENT = 1e-3


def _timed(fn) -> tuple[float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def timing(spec: dict) -> dict:
    import numpy as np
    import torch
    from mace.calculators import MACECalculator

    dtype = {"float32": torch.float32, "float64": torch.float64}[spec["dtype"]]
    torch.set_num_threads(int(spec["num_threads"]))
    model, recorded = build_model(spec)
    model = model.to(dtype).eval()
    calc = MACECalculator(models=model, device="cpu", default_dtype=spec["dtype"])
    torch.set_num_threads(int(spec["num_threads"]))

    atoms = build_structure(spec)
    atoms.calc = calc
    base = atoms.positions.copy()
    shift = np.random.default_rng(int(spec["seed"])).normal(size=base.shape)
    shift *= STEP_DISPLACEMENT / np.linalg.norm(shift, axis=1, keepdims=True)

    def step(k: int) -> None:
        atoms.positions = base + (1 if k % 2 else -1) * shift
        atoms.get_potential_energy()
        atoms.get_forces()

    warmup, repeats = int(spec["warmup"]), int(spec["repeats"])
    warm = [_timed(lambda k=k: step(k))[0] for k in range(warmup)]
    timed = [_timed(lambda k=k: step(k)) for k in range(warmup, warmup + repeats)]

    graph_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        batch = calc._atoms_to_batch(atoms)
        graph_times.append(time.perf_counter() - t0)

    def evaluate() -> None:
        out = calc.models[0](
            calc._clone_batch(batch).to_dict(), compute_stress=True, training=False
        )
        out["energy"].detach().cpu()
        out["forces"].detach().cpu()
        out["stress"].detach().cpu()

    for _ in range(warmup):
        evaluate()
    no_graph = [_timed(evaluate) for _ in range(repeats)]
    wall, cpu = [t[0] for t in timed], [t[1] for t in timed]
    return {
        "seconds_per_step": statistics.median(wall),
        "cpu_seconds_per_step": statistics.median(cpu),
        "no_graph_seconds_per_step": statistics.median(t[0] for t in no_graph),
        "no_graph_cpu_seconds_per_step": statistics.median(t[1] for t in no_graph),
        "graph_seconds": statistics.median(graph_times),
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "warmup_seconds": warm,
        "no_graph_wall_seconds": [t[0] for t in no_graph],
        "num_atoms": len(atoms),
        "num_edges": int(batch["edge_index"].shape[1]),
        "energy": float(atoms.get_potential_energy()),
        "peak_rss_mib": peak_rss_kib() / 1024.0,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "threads": torch.get_num_threads(),
        "constructor": recorded,
        "structure": spec["structure"],
    }


def main(argv: list[str]) -> int:
    spec = read_spec(argv)
    configure_threads(spec)
    # mace prints notices on stdout: keep stdout for the JSON answer only.
    answer, sys.stdout = sys.stdout, sys.stderr
    warnings.filterwarnings("ignore")
    import importlib.metadata as md

    result = timing(spec)
    result["block"] = spec["block"]
    result["versions"] = {pkg: md.version(pkg) for pkg in ("mace-torch", "torch", "e3nn", "ase")}
    json.dump(result, answer, indent=1)
    answer.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
