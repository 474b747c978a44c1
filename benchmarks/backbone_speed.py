"""Energy + forces speed of the mmh backbone against mace-torch 0.3.16, side by side.

Both codes evaluate the same model on the same crystal, one after the other in one script:
the backbone (element embedding, two interaction blocks, product bases), a linear readout on
the first layer, a 16-unit MLP readout on the last, and the ZBL pair term — the reference's
``ScaleShiftMACE`` with one head — then forces by back-propagation to the positions.
mace-torch runs in its own virtual environment (see ``_reference.py``); graph construction is
outside the timed region for both.

Default settings (issue #7): 1000-atom carbon fcc crystal (a = 3.8 Å), r_max 6 Å, float32, CPU,
2 threads, 128x0e+128x1o node and edge channels, max_ell 3, correlation 3, 10 Bessel functions,
the 89-element table of MACE-MH-1. The non-linear block uses the MACE-MH-1 options (Agnesi
transform, envelope after the radial MLP, agnostic product); the linear block the original MACE
ones (envelope on the Bessel features, element-dependent product).

Sizes (``--size``): ``omat`` is the 128x0e+128x1o model of mace-omat-0 (node and edge
channels); ``mh1`` the MACE-MH-1 size, 512x0e+512x1o node and 128x0e+128x1o edge channels.
``--repeat`` changes the crystal (``10 10 10`` is 1000 atoms). Each mmh measurement runs in a
fresh interpreter, so that its peak resident memory is its own. mmh runs its default CPU path
(the native fused convolution) with freed memory kept for reuse, as ``MMHCalculator`` does
(``MMH_CPU_ALLOCATOR=system`` keeps glibc's defaults); ``--e3nn`` adds a column for its e3nn
reference path.

Usage::

    uv run python benchmarks/backbone_speed.py [--blocks linear nonlinear] [--size omat]
        [--repeat 10 10 10] [--repeats 5] [--e3nn]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import ase.build
import numpy as np
import torch
from _reference import BENCHMARK_SPEC, MACE_VERSION, time_reference
from ase.neighborlist import neighbor_list
from e3nn import o3
from e3nn.math import normalize2mom
from mmh_layers import (
    BackboneConfig,
    MACEBackbone,
    ZBLRepulsion,
    keep_freed_cpu_memory,
    use_native,
)

MH1_ELEMENTS = (*range(1, 84), *range(89, 95))

# node and edge channels per size (all L = 1)
SIZES = {"omat": (128, 128), "mh1": (512, 128)}

# per block: (mmh options, matching mace-torch worker overrides)
BLOCK_OPTIONS = {
    "nonlinear": (
        dict(distance_transform="agnesi", agnostic_product=True),
        dict(distance_transform="Agnesi", apply_cutoff=False, use_agnostic_product=True),
    ),
    "linear": (
        dict(distance_transform=None, agnostic_product=False, avg_num_neighbors=30.0),
        dict(
            distance_transform="None",
            apply_cutoff=True,
            use_agnostic_product=False,
            avg_num_neighbors=30.0,
        ),
    ),
}


class EnergyModel(torch.nn.Module):
    """Backbone + one-head readouts + ZBL: the shape of the reference's ScaleShiftMACE."""

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        self.backbone = MACEBackbone(config)
        first, last = self.backbone.irreps_out[0], self.backbone.irreps_out[-1]
        self.readout_first = o3.Linear(first, "1x0e")
        self.readout_hidden = o3.Linear(last, "16x0e")
        self.act = normalize2mom(torch.nn.functional.silu)
        self.readout_last = o3.Linear("16x0e", "1x0e")
        self.zbl = ZBLRepulsion(p=config.envelope_p)

    def forward(self, z, positions, edge_index, shifts):
        vectors = positions[edge_index[1]] - positions[edge_index[0]] + shifts
        feats = self.backbone(z, vectors, edge_index)
        lengths = torch.linalg.vector_norm(vectors, dim=-1, keepdim=True)
        energy = self.readout_first(feats[0]).sum()
        energy = energy + self.readout_last(self.act(self.readout_hidden(feats[-1]))).sum()
        return energy + self.zbl(lengths, z, edge_index).sum()


def peak_rss_kib() -> float:
    """Peak resident memory of this process so far, in KiB (``VmHWM`` on Linux)."""
    try:
        for line in open("/proc/self/status").read().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def crystal(repeat=None):
    s = BENCHMARK_SPEC["structure"]
    atoms = ase.build.bulk(s["symbol"], s["crystal"], a=s["a"], cubic=s["cubic"])
    return atoms.repeat(tuple(repeat or s["repeat"]))


def time_mmh(
    block: str,
    repeats: int,
    warmup: int,
    threads: int,
    size: str = "omat",
    repeat=None,
    native: bool = True,
) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    # what MMHCalculator and the trainer do on the CPU (MMH_CPU_ALLOCATOR=system: glibc's
    # defaults, for comparison)
    keep_freed_cpu_memory()
    channels, edge_channels = SIZES[size]
    options = BLOCK_OPTIONS[block][0]
    config = BackboneConfig(
        elements=MH1_ELEMENTS,
        block=block,
        channels=channels,
        max_L=1,
        edge_channels=edge_channels,
        num_bessel=10,
        r_max=BENCHMARK_SPEC["r_max"],
        **options,
    )
    model = EnergyModel(config).float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    atoms = crystal(repeat)
    i, j, shift = neighbor_list("ijS", atoms, BENCHMARK_SPEC["r_max"])
    edge_index = torch.from_numpy(np.stack([i, j])).long()
    shifts = torch.tensor(shift @ atoms.cell.array, dtype=torch.float32)
    z = torch.tensor(atoms.numbers, dtype=torch.long)
    base = torch.tensor(atoms.positions, dtype=torch.float32)

    def step() -> tuple[float, float]:
        pos = base.clone().requires_grad_(True)
        c0, t0 = time.process_time(), time.perf_counter()
        energy = model(z, pos, edge_index, shifts)
        (grad,) = torch.autograd.grad(energy, pos)
        forces = -grad
        assert forces.shape == (len(atoms), 3)
        return time.perf_counter() - t0, time.process_time() - c0

    with use_native(native):
        for _ in range(warmup):
            step()
        wall, cpu = zip(*(step() for _ in range(repeats)), strict=True)
    return {
        "median": statistics.median(wall),
        "cpu": statistics.median(cpu),
        "atoms": len(atoms),
        "edges": edge_index.shape[1],
        "params": sum(p.numel() for p in model.parameters()),
        "peak_rss_mib": peak_rss_kib() / 1024,
    }


def time_mmh_in_process(*args, native: bool = True) -> dict:
    """`time_mmh` in a fresh interpreter, so that its peak memory is its own (freed memory
    stays with a process, `keep_freed_cpu_memory`)."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import backbone_speed as b; "
        f"print(json.dumps(b.time_mmh(*{args!r}, native={native!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def reference_spec(size: str, repeat) -> dict:
    """mace-torch overrides of the benchmark spec for a size and a crystal."""
    channels, edge_channels = SIZES[size]
    spec = {
        "hidden_irreps": f"{channels}x0e+{channels}x1o",
        "edge_irreps": f"{edge_channels}x0e+{edge_channels}x1o",
    }
    if repeat:
        spec["structure"] = {**BENCHMARK_SPEC["structure"], "repeat": list(repeat)}
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", nargs="+", default=["linear", "nonlinear"])
    parser.add_argument("--size", choices=sorted(SIZES), default="omat")
    parser.add_argument("--repeat", type=int, nargs=3, default=None, help="crystal repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=BENCHMARK_SPEC["num_threads"])
    parser.add_argument("--nice", type=int, default=0, help="niceness for both codes")
    parser.add_argument("--e3nn", action="store_true", help="also time mmh's e3nn path")
    args = parser.parse_args()
    if args.nice:
        os.nice(args.nice)
    channels, edge_channels = SIZES[args.size]
    print(
        f"torch {torch.__version__}, {args.threads} threads, float32, CPU, size {args.size} "
        f"({channels}x0e+{channels}x1o nodes, {edge_channels}x0e+{edge_channels}x1o edges)"
    )
    rows = []
    for block in args.blocks:
        timing = (block, args.repeats, args.warmup, args.threads, args.size, args.repeat)
        ours = time_mmh_in_process(*timing, native=True)
        e3nn = time_mmh_in_process(*timing, native=False) if args.e3nn else None
        ref = time_reference(
            block,
            repeats=args.repeats,
            warmup=args.warmup,
            nice=0,
            num_threads=args.threads,
            **BLOCK_OPTIONS[block][1],
            **reference_spec(args.size, args.repeat),
        )
        ref_s = ref["seconds_per_step"]["median"]
        ref_cpu = ref["cpu_seconds_per_step"]["median"]
        rows.append((block, ours, e3nn, ref))
        extra = ""
        if e3nn:
            extra = f" | mmh e3nn path {e3nn['median']:.2f} s/step wall, {e3nn['cpu']:.2f} s CPU"
        print(
            f"{block:9s} mmh {ours['median']:.2f} s/step wall, {ours['cpu']:.2f} s CPU, "
            f"{ours['params']:,} params, peak RSS {ours['peak_rss_mib']:.0f} MiB{extra} | "
            f"mace-torch {MACE_VERSION} {ref_s:.2f} s/step wall, {ref_cpu:.2f} s CPU, "
            f"{ref['num_parameters']:,} params, peak RSS {ref['peak_rss_mib']:.0f} MiB | "
            f"speed-up {ref_s / ours['median']:.2f}x wall, {ref_cpu / ours['cpu']:.2f}x CPU",
            flush=True,
        )
    print()
    print(
        "| block | size | atoms | edges | mmh s/step (CPU s) | mmh e3nn path s/step (CPU s) "
        "| mace-torch s/step (CPU s) | speed-up wall | speed-up CPU "
        "| peak RSS mmh / mace (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for block, ours, e3nn, ref in rows:
        ref_s = ref["seconds_per_step"]["median"]
        ref_cpu = ref["cpu_seconds_per_step"]["median"]
        e3nn_cell = f"{e3nn['median']:.2f} ({e3nn['cpu']:.2f})" if e3nn else "–"
        print(
            f"| {block} | {args.size} | {ours['atoms']} | {ours['edges']} | {ours['median']:.2f} "
            f"({ours['cpu']:.2f}) | {e3nn_cell} | {ref_s:.2f} ({ref_cpu:.2f}) "
            f"| {ref_s / ours['median']:.2f}x | {ref_cpu / ours['cpu']:.2f}x "
            f"| {ours['peak_rss_mib']:.0f} / {ref['peak_rss_mib']:.0f} |"
        )


if __name__ == "__main__":
    main()
