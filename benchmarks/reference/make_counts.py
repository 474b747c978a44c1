"""Regenerate ``counts.json``: parameter counts of mace-torch 0.3.16 for the reference settings.

Run from the repository root with the workspace interpreter::

    uv run python benchmarks/reference/make_counts.py

The reference code runs in its isolated environment (created on first use, see
``benchmarks/_reference.py``). Every configuration builds a ``ScaleShiftMACE`` with one head and
the same block class for every layer; the exact constructor arguments are stored next to each
count (``constructor``), with the per-module breakdown and every parameter's shape.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _reference import BENCHMARK_SPEC, MACE_VERSION, run_reference

OUTPUT = Path(__file__).resolve().parent / "counts.json"

# MACE-MH-1 settings (hidden 512x0e+512x1o, edge 128x0e+128x1o first-layer scalars only, 10 Bessel,
# p=5, 2 interactions, correlation 3, max_ell 3, radial MLP [64, 64, 64], agnostic product, Agnesi,
# ZBL, apply_cutoff=False, use_reduced_cg=False, 89 elements, 1 head). These are the worker's
# defaults; each configuration below lists only what it changes.
MH1 = {
    "hidden_irreps": "512x0e+512x1o",
    "edge_irreps": "128x0e+128x1o",
    "use_edge_irreps_first": True,
}
MH1_L2 = {
    "hidden_irreps": "512x0e+512x1o+512x2e",
    "edge_irreps": "128x0e+128x1o+128x2e",
    "use_edge_irreps_first": True,
}
# The speed benchmark's configuration: 128 channels, L=1. Edge irreps equal to the node irreps, so
# `linear_up` is a 128 -> 128 map in every layer (the first layer has 128x0e in both cases).
SMALL = {k: BENCHMARK_SPEC[k] for k in ("hidden_irreps", "edge_irreps", "use_edge_irreps_first")}
SMALL_L2 = {
    "hidden_irreps": "128x0e+128x1o+128x2e",
    "edge_irreps": "128x0e+128x1o+128x2e",
    "use_edge_irreps_first": True,
}

CONFIGS: dict[str, dict] = {
    "mh1_L1": MH1,
    "mh1_L2": MH1_L2,
    # Original MACE without separate edge channels (linear_up keeps the 512 node channels).
    "mh1_L1_no_edge_irreps": {**MH1, "edge_irreps": None, "use_edge_irreps_first": False},
    "small_L1": SMALL,
    "small_L1_no_edge_irreps": {**SMALL, "edge_irreps": None, "use_edge_irreps_first": False},
    "small_L1_carbon_only": {**SMALL, "atomic_numbers": [6]},
    "small_L2": SMALL_L2,
}

# Figures of the reference notes (sections 1.2 and 1.7), checked against the measured counts.
EXPECTED = {
    ("mh1_L1", "nonlinear"): 6_395_798,
    ("mh1_L1", "linear"): 48_807_184,
    ("mh1_L2", "nonlinear"): 7_539_990,
    ("mh1_L2", "linear"): 49_688_336,
}


def main() -> int:
    results: dict[str, dict] = {}
    mismatches = []
    for name, overrides in CONFIGS.items():
        results[name] = {}
        for block in ("nonlinear", "linear"):
            spec = {"task": "count", "block": block, **overrides}
            answer = run_reference(spec, nice=10)
            results[name][block] = answer
            expected = EXPECTED.get((name, block))
            flag = ""
            if expected is not None:
                flag = " (matches the notes)" if expected == answer["total"] else " MISMATCH"
                if expected != answer["total"]:
                    mismatches.append((name, block, expected, answer["total"]))
            print(f"{name:26s} {block:9s} total {answer['total']:>12,d}{flag}")
    document = {
        "description": (
            "Parameter counts of mace-torch ScaleShiftMACE (1 head) measured with "
            "benchmarks/reference/make_counts.py. 'backbone' = total minus the readouts "
            "(E0s and scale/shift are buffers, not parameters)."
        ),
        "mace_torch": MACE_VERSION,
        "expected_from_notes": {f"{k[0]}/{k[1]}": v for k, v in EXPECTED.items()},
        "configs": results,
    }
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {OUTPUT}")
    if mismatches:
        print(f"mismatches against the notes: {mismatches}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
