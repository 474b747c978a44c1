"""Regenerate ``mace_blocks.json``: single interaction blocks of mace-torch 0.3.16 on random
inputs, read by ``test_mace_blocks.py``.

Run from the repository root with the workspace interpreter::

    uv run python packages/mmh-layers/tests/data/make_mace_blocks.py

Each case builds one block in the isolated reference environment (the ``"block"`` task of
``benchmarks/reference/mace_worker.py``) in float64 with its random initial parameters (rounded
to 1e-4), runs it on random inputs and stores the irreps, parameters, inputs and outputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _reference import MACE_VERSION, run_reference  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "mace_blocks.json"

# 4 channels, L=1, l <= 2 spherical harmonics, 3 elements, 4 Bessel functions, one hidden layer
# of 8 in the radial MLP. apply_cutoff false hands the envelope to the block as ``cutoff``.
COMMON = {
    "hidden_irreps": "4x0e+4x1o",
    "edge_irreps": None,
    "use_edge_irreps_first": False,
    "num_elements": 3,
    "max_ell": 2,
    "num_bessel": 4,
    "radial_MLP": [8],
    "avg_num_neighbors": 3.0,
    "num_nodes": 5,
    "num_edges": 12,
}
CASES = {
    "linear_nonresidual_first": {"block": "linear_nonresidual", "layer": 0, "apply_cutoff": True},
    "density_nonresidual_first_cutoff": {
        "block": "density_nonresidual",
        "layer": 0,
        "apply_cutoff": False,
    },
    "density": {"block": "density", "layer": 1, "apply_cutoff": True},
    "density_cutoff": {"block": "density", "layer": 1, "apply_cutoff": False},
    "linear_cutoff": {"block": "linear", "layer": 1, "apply_cutoff": False},
}

KEPT = ("block", "block_class", "irreps", "num_elements", "parameters", "inputs", "message", "sc")


def main() -> int:
    cases = {}
    for seed, (name, case) in enumerate(CASES.items()):
        spec = {"task": "block", "seed": seed, **COMMON, **case}
        answer = run_reference(spec, nice=10)
        cases[name] = {k: answer[k] for k in KEPT}
        cases[name]["layer"] = case["layer"]
        cases[name]["avg_num_neighbors"] = COMMON["avg_num_neighbors"]
        print(f"{name:34s} {answer['block_class']}")
    document = {
        "description": (
            "Single interaction blocks of mace-torch on random inputs, float64 "
            "(packages/mmh-layers/tests/data/make_mace_blocks.py)."
        ),
        "mace_torch": MACE_VERSION,
        "cases": cases,
    }
    OUTPUT.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
