"""Named parameter groups: their mapping onto the model, freezing (bit-identical frozen
weights) and per-group learning-rate factors (optimiser groups, weight decay kept)."""

from __future__ import annotations

import pytest
import torch
from heads_for_tests import tiny_model
from mmh_heads import load_model, save_model
from mmh_train import (
    ConfigError,
    Trainer,
    group_names,
    group_parameters,
    load_config,
    parameter_groups,
    prepare_finetune,
)
from mmh_train.cli import main
from train_kit import finetune_config, write_config

REPLAY = {"dataset": "bulk", "count": 8, "batch_share": 0.25}


def _config(tmp_path, **changes):
    save_model(tiny_model(), tmp_path / "base.safetensors")
    cfg = finetune_config(
        tmp_path,
        tmp_path / "base.safetensors",
        {"mol": {"dataset": "mol", "max_train": 12}},
        **{"finetune.replay": REPLAY, "training.max_steps": 4, **changes},
    )
    return write_config(tmp_path / "ft.yaml", cfg)


def _ids(params):
    return {id(p) for p in params}


def test_group_names_map_onto_the_module_tree():
    model = tiny_model(extra_heads=("surf",))
    assert group_names(model) == [
        "backbone",
        "embedding",
        "interactions",
        "interactions.0",
        "interactions.1",
        "products",
        "products.0",
        "products.1",
        "readouts",
        "readouts.bulk",
        "readouts.surf",
    ]
    bb = model.backbone
    assert _ids(group_parameters(model, "backbone")) == _ids(bb.parameters())
    assert _ids(group_parameters(model, "embedding")) == _ids(bb.node_embedding.parameters())
    assert _ids(group_parameters(model, "interactions.1")) == _ids(bb.interactions[1].parameters())
    assert _ids(group_parameters(model, "products")) == _ids(bb.products.parameters())
    assert _ids(group_parameters(model, "readouts.surf")) == _ids(model.readouts[1].parameters())
    # the groups cover every parameter
    covered = _ids(group_parameters(model, "backbone")) | _ids(group_parameters(model, "readouts"))
    assert covered == _ids(model.parameters())
    for bad in ("interactions.2", "readouts.mol", "radial", "interactions.01"):
        with pytest.raises(ConfigError, match=rf"unknown parameter group '{bad}'.*readouts\.surf"):
            group_parameters(model, bad, "finetune.freeze")


def test_lr_factors_make_optimiser_groups_and_keep_each_parameters_decay():
    model = tiny_model(extra_heads=("surf",))
    plain = parameter_groups(model, 1e-3, lr=0.01)
    assert [g["name"] for g in plain] == ["decay", "no_decay"]
    decay = {id(p): g["weight_decay"] for g in plain for p in g["params"]}
    factors = {"backbone": 0.2, "embedding": 0.1, "interactions.0": 0.3, "readouts.surf": 0.5}
    groups = parameter_groups(model, 1e-3, factors, lr=0.01)
    seen = [id(p) for g in groups for p in g["params"]]
    assert sorted(seen) == sorted(decay)  # every trainable parameter once
    expected = {}
    for name in ("backbone", "embedding", "interactions.0", "readouts.surf"):  # general first
        expected.update({id(p): factors[name] for p in group_parameters(model, name)})
    for g in groups:
        for p in g["params"]:
            assert g["weight_decay"] == decay[id(p)]
            assert g["lr_factor"] == expected.get(id(p), 1.0)
            assert g["lr"] == pytest.approx(0.01 * g["lr_factor"], rel=1e-15)
    names = [g["name"] for g in groups]
    assert "no_decay" in names and "decay:interactions.0" in names and "decay" not in names
    # frozen parameters are left out
    model.readouts[0].requires_grad_(False)
    left = {id(p) for g in parameter_groups(model, 1e-3, factors, lr=0.01) for p in g["params"]}
    assert not left & _ids(model.readouts[0].parameters())


def test_frozen_groups_stay_bit_identical(tmp_path):
    config = load_config(
        _config(tmp_path, **{"finetune.freeze": ["embedding", "interactions.0", "readouts.bulk"]})
    )
    setup = prepare_finetune(config)
    model = setup.model
    frozen = [
        *group_parameters(model, "embedding"),
        *group_parameters(model, "interactions.0"),
        *group_parameters(model, "readouts.bulk"),
    ]
    assert setup.summary["frozen"] == ["embedding", "interactions.0", "readouts.bulk"]
    assert all(not p.requires_grad for p in frozen)
    names = {id(p): n for n, p in model.named_parameters()}
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = Trainer(config, setup)
    in_optimiser = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not in_optimiser & _ids(frozen)
    trainer.fit()
    saved = dict(load_model(tmp_path / "run" / "model-last.safetensors").named_parameters())
    for name, p in trainer.model.named_parameters():
        if id(p) in _ids(frozen):
            assert torch.equal(p, before[name]), name
            assert torch.equal(saved[name], before[name]), f"EMA {name}"
    moved = [names[id(p)] for p in group_parameters(model, "interactions.1")]
    assert any(not torch.equal(dict(trainer.model.named_parameters())[n], before[n]) for n in moved)


def test_lr_factors_train_at_their_rate(tmp_path):
    factors = {"embedding": 0.1, "readouts": 2.0}
    config = load_config(_config(tmp_path, **{"optimizer.lr_factors": factors}))
    trainer = Trainer(config, prepare_finetune(config))
    lrs = {g["name"]: g["lr"] for g in trainer.optimizer.param_groups}
    assert lrs["no_decay:embedding"] == pytest.approx(0.001)
    assert lrs["no_decay:readouts"] == pytest.approx(0.02)
    assert trainer.lr == pytest.approx(0.01)
    assert trainer.scheduler.min_lrs == [0.0] * len(lrs)


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"finetune.freeze": ["radial"]}, ["finetune.freeze[0]", "'radial'", "readouts.mol"]),
        ({"finetune.freeze": ["readouts.pbe"]}, ["'readouts.pbe'", "interactions.1"]),
        ({"optimizer.lr_factors": {"interaction": 0.1}}, ["optimizer.lr_factors.interaction"]),
        ({"optimizer.lr_factors": {"embedding": 0}}, ["lr_factors.embedding must be > 0"]),
        ({"finetune.freeze": ["backbone", "readouts"]}, ["every parameter is frozen"]),
        ({"finetune.freeze": "embedding"}, ["finetune.freeze: expected a list"]),
    ],
)
def test_bad_groups_stop_at_start_up(tmp_path, capsys, changes, fragments):
    code = main(["finetune", str(_config(tmp_path, **changes))])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("mmh-train: error:") and "\n" not in err
    for fragment in fragments:
        assert fragment in err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
