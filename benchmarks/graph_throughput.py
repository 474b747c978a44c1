"""Graph building + collation throughput of mmh-data on one CPU core.

Builds graphs (vesin neighbour list, tensors) of 20-atom molecules and collates them into
batches, with ``torch.set_num_threads(1)`` in one process, and prints graphs per second
(wall-clock and CPU time; on a shared machine the CPU-time figure is the one that
measures this code). Then, for the record, the same through a DataLoader with worker
processes.

Run from the repository root::

    uv run python benchmarks/graph_throughput.py [--graphs 4000] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from mmh_data import Configuration, GraphBuilder, GraphDataset, collate, graph_loader


def molecules(count: int, n_atoms: int = 20, seed: int = 0) -> list[Configuration]:
    """Random compact molecules: jittered grid points, ~1.5 Å apart, with labels."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(3)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.5
    out = []
    for _ in range(count):
        pick = rng.choice(len(grid), size=n_atoms, replace=False)
        pos = grid[pick] + rng.normal(size=(n_atoms, 3)) * 0.1
        out.append(
            Configuration(
                atomic_numbers=rng.choice([1, 6, 7, 8], size=n_atoms),
                positions=pos,
                energy=float(rng.normal()),
                forces=rng.normal(size=(n_atoms, 3)),
            )
        )
    return out


def run_serial(configs, builder, batch_size: int) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    edges = 0
    for start in range(0, len(configs), batch_size):
        batch = collate([builder(c) for c in configs[start : start + batch_size]])
        edges += batch.num_edges
    return time.perf_counter() - wall, time.process_time() - cpu, edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cutoff", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    configs = molecules(args.graphs)
    print(
        f"{args.graphs} molecules of 20 atoms, cutoff {args.cutoff} Å, batch size "
        f"{args.batch_size}, torch threads {torch.get_num_threads()}"
    )
    for dtype in (torch.float32, torch.float64):
        builder = GraphBuilder(args.cutoff, dtype=dtype)
        run_serial(configs[:200], builder, args.batch_size)  # warm-up
        runs = [run_serial(configs, builder, args.batch_size) for _ in range(args.repeats)]
        wall = min(r[0] for r in runs)
        cpu = min(r[1] for r in runs)
        edges = runs[0][2] / len(configs)
        print(
            f"  {dtype!s:<14} one core: {len(configs) / cpu:8.0f} graphs/s (CPU time), "
            f"{len(configs) / wall:8.0f} graphs/s (wall); {edges:.0f} edges/graph"
        )

    if args.workers:
        dataset = GraphDataset(configs, GraphBuilder(args.cutoff, dtype=torch.float32))
        loader = graph_loader(dataset, batch_size=args.batch_size, num_workers=args.workers)
        for _ in loader:  # start the workers
            break
        start = time.perf_counter()
        count = sum(b.num_graphs for b in loader)
        wall = time.perf_counter() - start
        print(f"  DataLoader, {args.workers} workers: {count / wall:8.0f} graphs/s (wall)")


if __name__ == "__main__":
    main()
