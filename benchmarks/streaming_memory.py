"""Resident memory while streaming a large mmh LMDB store end to end.

Writes a synthetic store of small labelled molecules (default 1,000,000 configurations of
3-8 atoms), then streams it through ``LMDBDataset`` -> ``GraphBuilder`` -> ``collate``
(a DataLoader in the main process), and prints the growth of the resident set size (RSS,
with its anonymous and file-backed parts from ``/proc/self/status``) over the run. Linux
only. Takes several minutes for 10^6 configurations.

Run from the repository root::

    nice -n 10 uv run python benchmarks/streaming_memory.py [--count 1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from mmh_data import Configuration, GraphBuilder, LMDBDataset, graph_loader, write_lmdb


def rss_mb() -> dict[str, float]:
    """VmRSS, RssAnon and RssFile of this process in MB."""
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


def synthetic(count: int, seed: int = 0, chunk: int = 10_000):
    """Small molecules: 3-8 atoms on a jittered 1.4 Å grid, energies and forces."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(2)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.4
    done = 0
    while done < count:
        m = min(chunk, count - done)
        sizes = rng.integers(3, 9, size=m)
        order = np.argsort(rng.random((m, 8)), axis=1)  # random grid points per molecule
        jitter = rng.normal(size=(m, 8, 3)) * 0.05
        numbers = rng.choice(np.array([1, 6, 7, 8]), size=(m, 8))
        forces = rng.normal(size=(m, 8, 3))
        energies = rng.normal(size=m)
        for k in range(m):
            n = sizes[k]
            yield Configuration(
                atomic_numbers=numbers[k, :n],
                positions=grid[order[k, :n]] + jitter[k, :n],
                energy=float(energies[k]),
                forces=forces[k, :n],
                head="synthetic",
                source_file="synthetic",
                source_index=done + k,
            )
        done += m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cutoff", type=float, default=5.0)
    parser.add_argument("--dir", default=None, help="where to write the store (default: tmp)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "synthetic.lmdb"
        before_write = rss_mb()
        start = time.perf_counter()
        write_lmdb(path, synthetic(args.count))
        after_write = rss_mb()
        size = os.path.getsize(path) / 1024**2
        print(
            f"wrote {args.count} configurations ({size:.0f} MB) in "
            f"{time.perf_counter() - start:.0f} s; RSS {before_write['VmRSS']:.0f} -> "
            f"{after_write['VmRSS']:.0f} MB"
        )

        dataset = LMDBDataset(path, transform=GraphBuilder(args.cutoff, heads=["synthetic"]))
        loader = graph_loader(dataset, batch_size=args.batch_size, num_workers=0)
        baseline = rss_mb()
        peak = dict(baseline)
        start = time.perf_counter()
        graphs = atoms = 0
        for step, batch in enumerate(loader):
            graphs += batch.num_graphs
            atoms += int(batch.num_atoms.sum())
            if step % 500 == 0:
                now = rss_mb()
                peak = {k: max(peak[k], now[k]) for k in peak}
                if step % 5000 == 0:
                    print(
                        f"  {graphs:>9} graphs  RSS {now['VmRSS']:7.1f} MB  (anon "
                        f"{now['RssAnon']:.1f}, file {now['RssFile']:.1f})",
                        flush=True,
                    )
        elapsed = time.perf_counter() - start
        now = rss_mb()
        peak = {k: max(peak[k], now[k]) for k in peak}
        assert graphs == args.count, (graphs, args.count)
        print(
            f"streamed {graphs} graphs ({atoms} atoms) in {elapsed:.0f} s "
            f"({graphs / elapsed:.0f} graphs/s)"
        )
        print(
            f"RSS at start of streaming {baseline['VmRSS']:.1f} MB, peak "
            f"{peak['VmRSS']:.1f} MB, end {now['VmRSS']:.1f} MB"
        )
        print(
            f"resident memory growth while streaming: {peak['VmRSS'] - baseline['VmRSS']:.1f} "
            f"MB (anonymous {peak['RssAnon'] - baseline['RssAnon']:.1f} MB, file-backed "
            f"{peak['RssFile'] - baseline['RssFile']:.1f} MB)"
        )
        print(
            f"resident memory growth end to end (from before writing): "
            f"{peak['VmRSS'] - before_write['VmRSS']:.1f} MB"
        )


if __name__ == "__main__":
    main()
