"""Interaction blocks against mace-torch 0.3.16 itself: the same parameters and inputs give the
same outputs (float64). The reference numbers are in ``data/mace_blocks.json``, written by
``data/make_mace_blocks.py``."""

import json
from pathlib import Path

import pytest
import torch
from e3nn import o3
from mmh_layers import INTERACTION_BLOCKS, InteractionSpec

DATA = Path(__file__).parent / "data" / "mace_blocks.json"
CASES = json.loads(DATA.read_text())["cases"]


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _block(case):
    ir = {k: o3.Irreps(v) for k, v in case["irreps"].items()}
    mlp = [torch.tensor(w) for n, w in sorted(case["parameters"].items()) if "conv_tp_weights" in n]
    spec = InteractionSpec(
        irreps_node=ir["node"],
        irreps_edge=ir["edge"],
        irreps_sh=ir["sh"],
        irreps_target=ir["target"],
        irreps_skip=ir["hidden"],
        num_elements=case["num_elements"],
        num_bessel=mlp[0].shape[0],
        radial_mlp=tuple(w.shape[1] for w in mlp[:-1]),
        avg_num_neighbors=case["avg_num_neighbors"],
        backend="e3nn",
    )
    return INTERACTION_BLOCKS[case["block"]](spec)


def _load_mace_parameters(block, parameters):
    """mace's parameter names are ours, except the one-hot FCTP ``skip_tp.weight``, which is the
    concatenation of our ``skip_tp.weights.k`` (``[mul_in, Z, mul_out]`` per path)."""
    ours = dict(block.named_parameters())
    with torch.no_grad():
        for name, values in parameters.items():
            value = torch.tensor(values)
            if name == "skip_tp.weight":
                paths = list(block.skip_tp.weights)
                pieces = value.split([w.numel() for w in paths])
                assert sum(w.numel() for w in paths) == value.numel()
                for w, piece in zip(paths, pieces, strict=True):
                    w.copy_(piece.reshape(w.shape))
                ours = {k: v for k, v in ours.items() if not k.startswith("skip_tp.")}
            else:
                ours.pop(name).copy_(value)
    assert not ours, f"parameters mace does not have: {sorted(ours)}"


@pytest.mark.parametrize("name", CASES)
def test_block_equals_mace(name, float64):
    case = CASES[name]
    block = _block(case)
    assert type(block).block_name == case["block"]
    _load_mace_parameters(block, case["parameters"])
    x = case["inputs"]
    cutoff = None if x["cutoff"] is None else torch.tensor(x["cutoff"])
    a, skip = block(
        torch.tensor(x["node_feats"]),
        torch.tensor(x["species"]),
        torch.tensor(x["edge_attrs"]),
        torch.tensor(x["edge_feats"]),
        cutoff,
        torch.tensor(x["edge_index"]),
    )
    torch.testing.assert_close(a, torch.tensor(case["message"]), rtol=1e-12, atol=1e-12)
    if case["sc"] is None:
        assert skip is None
    else:
        torch.testing.assert_close(skip, torch.tensor(case["sc"]), rtol=1e-12, atol=1e-12)
