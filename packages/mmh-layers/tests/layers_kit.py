"""Block combinations and reference data shared by the tests of mmh-layers."""

import json
from pathlib import Path

# The interaction blocks of the MACE foundation models as BackboneConfig fields, plus the other
# envelope placement for the blocks of the original MACE family (the published models put the
# envelope on the Bessel features; mace's apply_cutoff=False puts it after the radial MLP).
FAMILIES = {
    "mh1": {"block": "nonlinear"},  # MACE-MH-1, OMOL
    "mp0a": {"block": "linear"},  # MACE-MP-0a
    "mp0b": {"first_block": "linear_nonresidual", "block": "linear"},  # MACE-MP-0b
    "mp0b_envelope_after_mlp": {
        "first_block": "linear_nonresidual",
        "block": "linear",
        "envelope_after_mlp": True,
    },
    "mpa": {"first_block": "density_nonresidual", "block": "density"},  # MP-0b2/0b3, MPA-0, OMAT-0
    "mpa_envelope_after_mlp": {
        "first_block": "density_nonresidual",
        "block": "density",
        "envelope_after_mlp": True,
    },
}

# The combinations of the published models alone (where the envelope placement does not matter)
FOUNDATION_FAMILIES = ("mh1", "mp0a", "mp0b", "mpa")

# Parameter counts of mace-torch 0.3.16 (written by benchmarks/reference/make_counts.py).
COUNTS_FILE = Path(__file__).resolve().parents[3] / "benchmarks" / "reference" / "counts.json"

# mace interaction classes and the mmh blocks equal to them
MACE_BLOCKS = {
    "RealAgnosticResidualInteractionBlock": "linear",
    "RealAgnosticResidualNonLinearInteractionBlock": "nonlinear",
    "RealAgnosticInteractionBlock": "linear_nonresidual",
    "RealAgnosticDensityResidualInteractionBlock": "density",
    "RealAgnosticDensityInteractionBlock": "density_nonresidual",
}


def reference_counts() -> dict:
    """``configs`` of counts.json: configuration -> model key -> stored answer."""
    return json.loads(COUNTS_FILE.read_text())["configs"]


def config_from_mace(constructor: dict) -> dict:
    """BackboneConfig keyword arguments equal to a recorded mace-torch constructor."""
    from e3nn import o3

    hidden = o3.Irreps(constructor["hidden_irreps"])
    edge = constructor["edge_irreps"]
    transform = constructor["distance_transform"]
    return {
        "elements": tuple(constructor["atomic_numbers"]),
        "block": MACE_BLOCKS[constructor["interaction_cls"]],
        "first_block": MACE_BLOCKS[constructor["interaction_cls_first"]],
        "channels": hidden[0].mul,
        "max_L": hidden.lmax,
        "edge_channels": None if edge is None else o3.Irreps(edge)[0].mul,
        "edge_irreps_first": bool(constructor["use_edge_irreps_first"]) and edge is not None,
        "max_ell": constructor["max_ell"],
        "correlation": constructor["correlation"],
        "num_interactions": constructor["num_interactions"],
        "r_max": constructor["r_max"],
        "num_bessel": constructor["num_bessel"],
        "envelope_p": constructor["num_polynomial_cutoff"],
        "envelope_after_mlp": not constructor["apply_cutoff"],
        "radial_mlp": tuple(constructor["radial_MLP"]),
        "distance_transform": None if transform == "None" else transform.lower(),
        "agnostic_product": constructor["use_agnostic_product"],
    }
