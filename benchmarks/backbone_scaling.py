"""Time and peak memory of one energy + forces step against the number of atoms.

The backbone benchmark's model and crystal (``backbone_speed.py``: carbon fcc, a = 3.8 Å,
r_max 6 Å, float32, CPU, 2 threads, 128x0e+128x1o) at 100 to 10,000 atoms. Every size runs in
a fresh process, so each peak resident memory (``VmHWM``) belongs to that size alone. mmh runs
its default CPU path; mace-torch 0.3.16 (its own environment, ``_reference.py``) runs beside it
at the sizes given by ``--reference-atoms`` (it needs about 6 GB per 1000 atoms, so 10,000 atoms
do not fit in 24 GB).

Usage::

    uv run python benchmarks/backbone_scaling.py [--blocks nonlinear] [--atoms 100 1000 10000]
"""

from __future__ import annotations

import argparse

from _reference import MACE_VERSION, time_reference

# primitive fcc repeats with exactly these atom counts
REPEATS = {
    100: (5, 5, 4),
    300: (5, 6, 10),
    1000: (10, 10, 10),
    3000: (15, 10, 20),
    10000: (25, 20, 20),
}


def run_mmh(block: str, atoms: int, repeats: int, warmup: int, threads: int) -> dict:
    """One size in a fresh interpreter (``backbone_speed.time_mmh_in_process``)."""
    from backbone_speed import time_mmh_in_process

    return time_mmh_in_process(block, repeats, warmup, threads, "omat", REPEATS[atoms])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", nargs="+", default=["nonlinear"])
    parser.add_argument("--atoms", type=int, nargs="+", default=[100, 1000, 3000, 10000])
    parser.add_argument("--reference-atoms", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for n in args.atoms + args.reference_atoms:
        if n not in REPEATS:
            raise SystemExit(f"--atoms: choose from {sorted(REPEATS)}")
    print(
        "| block | atoms | edges | mmh s/step (CPU s) | mmh peak RSS (MiB) "
        f"| mace-torch {MACE_VERSION} s/step (CPU s) | mace-torch peak RSS (MiB) "
        "| speed-up CPU | time / time at 1000 atoms (mmh) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for block in args.blocks:
        results = {}
        for n in sorted(set(args.atoms) | set(args.reference_atoms)):
            ours = (
                run_mmh(block, n, args.repeats, args.warmup, args.threads)
                if n in args.atoms
                else None
            )
            ref = None
            if n in args.reference_atoms:
                from backbone_speed import BLOCK_OPTIONS, reference_spec

                ref = time_reference(
                    block,
                    repeats=args.repeats,
                    warmup=args.warmup,
                    nice=0,
                    num_threads=args.threads,
                    **BLOCK_OPTIONS[block][1],
                    **reference_spec("omat", REPEATS[n]),
                )
            results[n] = (ours, ref)
        base = results.get(1000, (None, None))[0]
        for n, (ours, ref) in results.items():
            cells = [block, str(n)]
            cells.append(str(ours["edges"]) if ours else str(ref["num_edges"]))
            cells.append(f"{ours['median']:.2f} ({ours['cpu']:.2f})" if ours else "–")
            cells.append(f"{ours['peak_rss_mib']:.0f}" if ours else "–")
            if ref:
                cells.append(
                    f"{ref['seconds_per_step']['median']:.2f} "
                    f"({ref['cpu_seconds_per_step']['median']:.2f})"
                )
                cells.append(f"{ref['peak_rss_mib']:.0f}")
            else:
                cells += ["–", "–"]
            if ours and ref:
                cells.append(f"{ref['cpu_seconds_per_step']['median'] / ours['cpu']:.2f}x")
            else:
                cells.append("–")
            cells.append(f"{ours['median'] / base['median']:.2f}" if ours and base else "–")
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
