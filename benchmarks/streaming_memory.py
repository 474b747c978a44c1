"""Resident memory while streaming a large mmh LMDB store end to end.

Default mode: writes a synthetic store of small labelled molecules (default 1,000,000
configurations of 3-8 atoms), then streams it through ``LMDBDataset`` -> ``GraphBuilder``
-> ``collate`` (a DataLoader in the main process), and prints the growth of the resident
set size (RSS, with its anonymous and file-backed parts from ``/proc/self/status``) over
the run. Linux only. Takes several minutes for 10^6 configurations.

``--pretrain`` mode: pre-trains a small model (``mmh-train``, streamed training files)
for ``--steps`` steps on a small and a large synthetic store (``--counts``), in one
process and in ``--nproc`` torchrun processes, for each ``--format`` (``lmdb``: the mmh
store; ``aselmdb``: ASE-LMDB, needs ``ase-db-backends``), and prints each run's peak RSS
per process, its start-up time (set-up until the first step, statistics cached) and the
peak RSS difference between the large and the small store. The stores (and their
cached statistics) are kept in ``--dir`` for later runs.

Run from the repository root::

    nice -n 10 uv run python benchmarks/streaming_memory.py [--count 1000000] [--dir DIR]
    nice -n 10 uv run python benchmarks/streaming_memory.py --pretrain --dir DIR \
        [--counts 10000 1000000] [--steps 200] [--nproc 2] [--format lmdb aselmdb]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
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


class _IdList(list):
    """A list of row ids with constant-time membership tests."""

    def __init__(self, ids) -> None:
        super().__init__(ids)
        self._members = set(ids)

    def append(self, value) -> None:
        super().append(value)
        self._members.add(value)

    def __contains__(self, value) -> bool:
        return value in self._members


def write_store(path: Path, count: int, fmt: str) -> None:
    """A synthetic store of ``count`` molecules as an mmh LMDB or ASE-LMDB file."""
    if fmt == "lmdb":
        write_lmdb(path, synthetic(count))
        return
    import ase.db

    with ase.db.connect(str(path), type="aselmdb") as db:
        # ase-db-backends tests `id not in self.ids` on a list at every write, which makes
        # writing n rows take n^2 time; the same ids with a set beside them keep it linear
        db.ids = _IdList(db.ids)
        for c in synthetic(count):
            atoms = c.to_atoms()
            db.write(atoms, key_value_pairs={"REF_energy": c.energy}, data={"REF_forces": c.forces})


def pretrain_config(store: Path, out: Path, steps: int) -> dict:
    """A small model, pre-trained on ``store`` for ``steps`` steps, no validation."""
    return {
        "output": str(out),
        "seed": 0,
        "dtype": "float32",
        "device": "cpu",
        "model": {
            "channels": 8,
            "max_L": 1,
            "max_ell": 2,
            "correlation": 2,
            "num_bessel": 6,
            "radial_mlp": [16, 16],
            "r_max": 5.0,
            "readout_hidden": 8,
        },
        "heads": {"synthetic": {"train": [str(store)], "e0s": "average"}},
        "optimizer": {"lr": 0.005, "ema_decay": 0.99},
        "training": {
            "epochs": 1000,
            "max_steps": steps,
            "batch_size": 16,
            "checkpoint_every": 10**9,
            "num_threads": 1,
            "streaming": "on",
        },
        "logging": {"progress": False, "tensorboard": False, "plots": False, "log_every": 50},
    }


def worker(config_file: str, result_file: str) -> None:
    """One training process: set-up, training, and what it measured (JSON per rank)."""
    import yaml
    from mmh_train import TrainConfig, Trainer, init_distributed, prepare_pretrain

    start = time.perf_counter()
    config = TrainConfig.from_dict(yaml.safe_load(Path(config_file).read_text()))
    ctx = init_distributed("cpu")
    torch.set_num_threads(1)
    setup = prepare_pretrain(config)
    trainer = Trainer(config, setup, ctx)
    after_setup = rss_mb()
    setup_s = time.perf_counter() - start
    trainer.fit()
    end = rss_mb()
    result = {
        "rank": ctx.rank,
        "setup_s": setup_s,
        "total_s": time.perf_counter() - start,
        "rss_after_setup_mb": after_setup["VmRSS"],
        "peak_rss_mb": end["VmHWM"],
        "rss_end_mb": end["VmRSS"],
        "rss_anon_end_mb": end["RssAnon"],
        "rss_file_end_mb": end["RssFile"],
        "rss_anon_after_setup_mb": after_setup["RssAnon"],
        "statistics": setup.summary.get("statistics_cache"),
    }
    Path(f"{result_file}.{ctx.rank}").write_text(json.dumps(result))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_pretrain(store: Path, work: Path, steps: int, nproc: int) -> list[dict]:
    """Pre-train on ``store`` in ``nproc`` processes; each process's measurements."""
    import yaml

    name = f"{store.stem}-{nproc}p"
    config = work / f"{name}.yaml"
    config.write_text(yaml.safe_dump(pretrain_config(store, work / name, steps)))
    result = work / f"{name}.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(key, None)
    me = [str(Path(__file__).resolve()), "--worker", str(config), str(result)]
    if nproc == 1:
        cmd = [sys.executable, *me]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            str(nproc),
            "--master-port",
            str(_free_port()),
            *me,
        ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return [json.loads(Path(f"{result}.{r}").read_text()) for r in range(nproc)]


def pretrain_main(args) -> None:
    from mmh_data import cached_statistics, open_source

    work = Path(args.dir or tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    for fmt in args.format:
        if fmt == "aselmdb":
            try:
                import ase_db_backends  # noqa: F401
            except ImportError:
                print("aselmdb: skipped (install ase-db-backends to write and read ASE-LMDB)")
                continue
        peaks: dict[tuple[int, int], float] = {}
        for count in args.counts:
            store = work / f"synthetic-{count}.{fmt}"
            if not store.exists():
                start = time.perf_counter()
                write_store(store, count, fmt)
                print(f"{fmt}: wrote {count} configurations in {time.perf_counter() - start:.0f} s")
            start = time.perf_counter()
            source = open_source(store, head="synthetic")
            _, status = cached_statistics(
                store, lambda s=source: iter(s), head="synthetic", cutoff=5.0
            )
            print(f"{fmt} {count}: statistics {status} in {time.perf_counter() - start:.0f} s")
            for nproc in (1, args.nproc):
                runs = run_pretrain(store, work, args.steps, nproc)
                peak = max(r["peak_rss_mb"] for r in runs)
                peaks[(count, nproc)] = peak
                print(
                    f"{fmt} {count:>8} x {nproc} proc: start-up "
                    f"{max(r['setup_s'] for r in runs):.1f} s, total "
                    f"{max(r['total_s'] for r in runs):.0f} s, peak RSS per process "
                    + ", ".join(f"{r['peak_rss_mb']:.0f}" for r in runs)
                    + " MB",
                    flush=True,
                )
        small, large = min(args.counts), max(args.counts)
        for nproc in (1, args.nproc):
            growth = peaks[(large, nproc)] - peaks[(small, nproc)]
            print(
                f"{fmt}, {nproc} proc: peak RSS {large} vs {small} configurations: "
                f"{growth:+.0f} MB per process"
            )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cutoff", type=float, default=5.0)
    parser.add_argument("--dir", default=None, help="where to write the store (default: tmp)")
    parser.add_argument("--pretrain", action="store_true", help="measure pre-training runs")
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--format", nargs="+", default=["lmdb", "aselmdb"])
    args = parser.parse_args()
    if args.pretrain:
        pretrain_main(args)
        return
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
