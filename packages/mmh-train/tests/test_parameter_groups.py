"""Weight decay and regularisation use the groups the model declares, not parameter names."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

import pytest
import torch
from heads_for_tests import tiny_model
from mmh_heads import MultiHeadMACE
from mmh_train import head_parameters, parameter_groups


def _rename(mapping: OrderedDict, old: str, new: str) -> OrderedDict:
    assert old in mapping, (old, list(mapping))
    return OrderedDict((new if key == old else key, value) for key, value in mapping.items())


def _rename_layers(model) -> None:
    """Rename a linear map, a skip connection and a product's linear map in the backbone, and a
    readout layer of every head (the modules and tensors stay the same objects)."""
    for block in model.backbone.interactions:
        block._modules = _rename(block._modules, "linear_up", "up_projection")
        block._modules = _rename(block._modules, "skip_tp", "self_connection")
    for product in model.backbone.products:
        product._modules = _rename(product._modules, "linear", "mix")
    for readout in model.readouts:
        readout._parameters = _rename(readout._parameters, "linear", "first_layer")


def _decay_sets(model) -> dict[str, set[int]]:
    return {
        g["name"]: {id(p) for p in g["params"]} for g in parameter_groups(model, weight_decay=1e-3)
    }


@pytest.mark.parametrize("block", ["nonlinear", "linear"])
def test_renaming_layers_changes_no_group(block):
    model = tiny_model(extra_heads=("mol",))
    if block == "linear":  # the same model with the linear block's module kinds
        backbone = dataclasses.replace(
            model.config.backbone, block="linear", agnostic_product=False
        )
        torch.manual_seed(0)
        model = MultiHeadMACE(
            dataclasses.replace(model.config, backbone=backbone), dtype=torch.float64
        )
    names_before = {n for n, _ in model.named_parameters()}
    decay = _decay_sets(model)
    declared = {k: {id(p) for p in v} for k, v in model.parameter_groups().items()}
    targets = {h: {id(p) for p in head_parameters(model, h).values()} for h in model.heads}

    _rename_layers(model)

    assert {n for n, _ in model.named_parameters()} != names_before  # the names did change
    assert _decay_sets(model) == decay
    assert {k: {id(p) for p in v} for k, v in model.parameter_groups().items()} == declared
    assert {h: {id(p) for p in head_parameters(model, h).values()} for h in model.heads} == targets


def test_declared_groups_partition_the_parameters_and_decay_the_equivariant_maps():
    model = tiny_model(extra_heads=("mol",))
    groups = model.parameter_groups()
    ids = [id(p) for params in groups.values() for p in params]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    decayed = {id(p) for p in groups["backbone.decay"]}
    by_id = {id(p): n for n, p in model.named_parameters()}
    names = sorted(by_id[i] for i in decayed)
    assert names and all(".linear" in n or ".skip_tp." in n or ".products." in n for n in names), (
        names
    )
    assert not any("embedding" in n or "conv_tp_weights" in n for n in names)
    for head in model.heads:
        assert {id(p) for p in groups[f"readouts.{head}"]} == {
            id(p) for p in model.readout(head).parameters()
        }
    optimiser = _decay_sets(model)
    assert optimiser["decay"] == decayed
