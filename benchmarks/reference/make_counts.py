"""Regenerate ``counts.json``: parameter counts of mace-torch 0.3.16 for the reference settings.

Run from the repository root with the workspace interpreter::

    uv run python benchmarks/reference/make_counts.py

The reference code runs in its isolated environment (created on first use, see
``benchmarks/_reference.py``). Every configuration builds a ``ScaleShiftMACE`` with one head for
each of its models: a block for every layer (``"linear"``, ``"nonlinear"``), or a first-layer
block and a block for the other layers, as the foundation models have them
(``"linear_nonresidual+linear"``: MACE-MP-0b; ``"density_nonresidual+density"``: MP-0b2/0b3,
MPA-0, OMAT-0). The exact constructor arguments are stored next to each count
(``constructor``), with the per-module breakdown and the irreps inside the blocks; the
per-parameter shapes the worker also reports are left out to keep the file small.
``packages/mmh-layers/tests/test_backbone.py`` reads this file and checks the backbone against
every count.
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

# The original MACE settings of MACE-MP-0b (small: L=0, medium: L=1) and MPA-0/OMAT-0 (medium):
# 128 channels, no separate edge irreps, 8 Bessel functions (the default), envelope on the Bessel
# features (apply_cutoff=True, the default), element-dependent product weights (the default), ZBL,
# Agnesi; the rest as above (89 elements, p=5, 2 interactions, correlation 3, max_ell 3).
ORIGINAL = {
    "edge_irreps": None,
    "use_edge_irreps_first": False,
    "num_bessel": 8,
    "apply_cutoff": True,
    "use_agnostic_product": False,
}

# Models per configuration: (first-layer block or None for the same as the others, block).
SAME_BLOCK = [(None, "nonlinear"), (None, "linear")]
MP0B = [("linear_nonresidual", "linear")]
MPA = [("density_nonresidual", "density")]

CONFIGS: dict[str, tuple[dict, list[tuple[str | None, str]]]] = {
    "mh1_L1": (MH1, SAME_BLOCK),
    "mh1_L2": (MH1_L2, SAME_BLOCK),
    # Original MACE without separate edge channels (linear_up keeps the 512 node channels).
    "mh1_L1_no_edge_irreps": (
        {**MH1, "edge_irreps": None, "use_edge_irreps_first": False},
        SAME_BLOCK,
    ),
    "small_L1": (SMALL, SAME_BLOCK),
    "small_L1_no_edge_irreps": (
        {**SMALL, "edge_irreps": None, "use_edge_irreps_first": False},
        SAME_BLOCK,
    ),
    "small_L1_carbon_only": ({**SMALL, "atomic_numbers": [6]}, SAME_BLOCK),
    "small_L2": (SMALL_L2, SAME_BLOCK),
    "mp0b_L0": ({**ORIGINAL, "hidden_irreps": "128x0e"}, MP0B),
    "mp0b_L1": ({**ORIGINAL, "hidden_irreps": "128x0e+128x1o"}, MP0B),
    "mpa_L1": ({**ORIGINAL, "hidden_irreps": "128x0e+128x1o"}, MPA),
    "mpa_L2": ({**ORIGINAL, "hidden_irreps": "128x0e+128x1o+128x2e"}, MPA),
    # The density blocks with MACE-MH-1-like edge channels (first layer scalars only).
    "mpa_L1_edge_irreps": (
        {
            **ORIGINAL,
            "hidden_irreps": "128x0e+128x1o",
            "edge_irreps": "32x0e+32x1o",
            "use_edge_irreps_first": True,
        },
        MPA,
    ),
}

# What the stored answers keep of the worker's (everything but the per-parameter shapes).
KEPT = (
    "total",
    "trainable",
    "backbone",
    "modules",
    "irreps",
    "constructor",
    "block",
    "block_class",
    "block_first",
    "block_first_class",
    "versions",
)


def model_key(first: str | None, block: str) -> str:
    """``"linear"`` for one block everywhere, ``"linear_nonresidual+linear"`` otherwise."""
    return block if first is None else f"{first}+{block}"


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
    for name, (overrides, models) in CONFIGS.items():
        results[name] = {}
        for first, block in models:
            key = model_key(first, block)
            spec = {"task": "count", "block": block, "block_first": first, **overrides}
            answer = run_reference(spec, nice=10)
            results[name][key] = {k: answer[k] for k in KEPT}
            expected = EXPECTED.get((name, key))
            flag = ""
            if expected is not None:
                flag = " (matches the notes)" if expected == answer["total"] else " MISMATCH"
                if expected != answer["total"]:
                    mismatches.append((name, key, expected, answer["total"]))
            print(f"{name:26s} {key:28s} total {answer['total']:>12,d}{flag}")
    document = {
        "description": (
            "Parameter counts of mace-torch ScaleShiftMACE (1 head) measured with "
            "benchmarks/reference/make_counts.py, per configuration and model: 'linear' = "
            "that block in every layer, 'first+block' = the first layer's block, then the "
            "other block (mmh block names). 'backbone' = total minus the readouts "
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
