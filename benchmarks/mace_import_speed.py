"""How fast mmh reads a large mace-torch model file, and with how much memory, against
mace-torch's own ``torch.load`` of the same file.

Run from the repository root with the workspace interpreter::

    uv run python benchmarks/mace_import_speed.py            # a 100 MB float64 file
    uv run python benchmarks/mace_import_speed.py --channels 512 --dtype float32

The file is built by mace-torch 0.3.16 in the isolated reference environment (see
``_reference.py``): an MH-1-style model (non-linear blocks, 89 elements, max_ell 3,
correlation 3) with ``--channels`` hidden channels per irrep up to L=1, saved with
``torch.save(model)`` as ``mace_run_train`` does. Each measurement runs in a fresh process,
which reports its wall time and its peak resident memory (``VmHWM``) above the interpreter's
baseline after imports:

* mmh read: the restricted reader (archive, pickle as data, every tensor materialised);
* mmh import: read, check and map onto ``MultiHeadMACE`` (``load_mace_model``);
* mace-torch: ``torch.load(path, weights_only=False)`` in the reference environment.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _reference import ensure_reference_env, reference_env_vars

_BUILD = """
import json, sys, torch
sys.path.insert(0, {worker!r})
import mace_worker as w
spec = w.read_spec(["x", json.dumps({spec})])
torch.set_default_dtype(getattr(torch, spec["dtype"]))
model, _ = w.build_model(spec)
torch.save(model, {path!r})
"""

_MEASURE_PRELUDE = """
import json, sys, time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
"""

_MMH_READ = (
    _MEASURE_PRELUDE
    + """
from mmh_heads._torch_archive import TorchArchive, module_tree
import numpy as np
base = rss(); t = time.perf_counter()
root = module_tree(TorchArchive(sys.argv[1]).load())
total = sum(v.numpy().nbytes for v in root.state_dict().values())
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mib": hwm() - base, "bytes": total}))
"""
)

_MMH_IMPORT = (
    _MEASURE_PRELUDE
    + """
from mmh_heads import load_mace_model
base = rss(); t = time.perf_counter()
model = load_mace_model(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mib": hwm() - base}))
"""
)

_MACE_LOAD = (
    _MEASURE_PRELUDE
    + """
import torch, mace.modules
base = rss(); t = time.perf_counter()
model = torch.load(sys.argv[1], weights_only=False, map_location="cpu")
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mib": hwm() - base}))
"""
)


def _run(python: str, code: str, path: Path, env=None) -> dict:
    proc = subprocess.run(
        [python, "-c", code, str(path)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=768)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    python = str(ensure_reference_env())
    worker = str(Path(__file__).resolve().parent / "reference")
    c = args.channels
    spec = {
        "block": "nonlinear",
        "hidden_irreps": f"{c}x0e+{c}x1o",
        "edge_irreps": "128x0e+128x1o",
        "dtype": args.dtype,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.model"
        code = _BUILD.format(worker=worker, spec=json.dumps(spec), path=str(path))
        proc = subprocess.run(
            [python, "-c", code], capture_output=True, text=True, env=reference_env_vars()
        )
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        size_mib = path.stat().st_size / 2**20
        rows = {"mmh read": [], "mmh import": [], "mace-torch torch.load": []}
        for _ in range(args.repeats):
            rows["mmh read"].append(_run(sys.executable, _MMH_READ, path))
            rows["mmh import"].append(_run(sys.executable, _MMH_IMPORT, path))
            rows["mace-torch torch.load"].append(
                _run(python, _MACE_LOAD, path, env=reference_env_vars())
            )
    print(f"file: {size_mib:.1f} MiB ({args.dtype}, hidden {c}x0e+{c}x1o, 89 elements)")
    best = {}
    for name, results in rows.items():
        seconds = min(r["seconds"] for r in results)
        peak = max(r["peak_mib"] for r in results)
        best[name] = seconds
        print(
            f"  {name:22s} {seconds:6.2f} s (best of {args.repeats}), peak memory "
            f"{peak:7.1f} MiB = {peak / size_mib:.2f} x the file"
        )
    ratio = best["mace-torch torch.load"] / best["mmh import"]
    print(f"  mmh import is {ratio:.2f}x the speed of mace-torch's torch.load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
