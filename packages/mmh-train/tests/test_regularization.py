"""Selective regularisation: the penalty, its gradient, its configuration, its log entry and
its snapshot across a resume."""

from __future__ import annotations

import pytest
import torch
from heads_for_tests import tiny_model
from mmh_heads import save_model
from mmh_train import (
    CheckpointError,
    ConfigError,
    HeadPenalty,
    SelectiveRegularization,
    Trainer,
    head_parameters,
    load_checkpoint,
    load_config,
    prepare_finetune,
    prepare_pretrain,
    read_log,
)
from train_kit import pretrain_config, write_config

REG = {"weight": 0.05, "target": "base"}


def _config(tmp_path, mode="replay", heads=("surf", "mol"), reg=None, base_reg=None, **changes):
    save_model(tiny_model(), tmp_path / "base.safetensors")
    finetune = {
        "model": str(tmp_path / "base.safetensors"),
        "mode": mode,
        "replay": {"dataset": "bulk", "count": 8, "batch_share": 0.25},
    }
    if base_reg is not None:
        finetune["regularization"] = base_reg
    head_cfg = {"max_train": 12}
    if reg is not None:
        head_cfg["regularization"] = reg
    cfg = pretrain_config(
        tmp_path,
        heads={h: {"dataset": h, **head_cfg} for h in heads},
        finetune=finetune,
        **changes,
    )
    cfg.pop("model")
    return load_config(write_config(tmp_path / "ft.yaml", cfg))


def _perturb(model, heads, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for h in heads:
            for p in head_parameters(model, h).values():
                p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def test_head_parameters_are_the_readout_only():
    model = tiny_model()
    model.add_head("mol", init_from="bulk")
    params = head_parameters(model, "mol")
    assert set(params) == {"linear", "mlp_in", "mlp_out"}
    assert all(p is q for p, q in zip(params.values(), model.readouts[1].parameters(), strict=True))
    with pytest.raises(KeyError, match="unknown head 'pbe'"):
        head_parameters(model, "pbe")


def test_penalty_is_zero_at_the_targets(tmp_path):
    config = _config(tmp_path, reg=REG, base_reg={"weight": 0.2})
    setup = prepare_finetune(config)
    reg = setup.regularization
    assert reg is not None and {p.head: p.target for p in reg.penalties} == {
        "surf": "base",
        "mol": "base",
        "bulk": "base",
    }
    # the new heads start as copies of the base readout: exactly on the snapshot
    assert reg.penalty(setup.model).item() == 0.0
    assert setup.summary["regularization"]["bulk"] == {"weight": 0.2, "target": "base"}
    # towards zero: zero parameters, zero penalty
    zero = SelectiveRegularization([HeadPenalty("mol", 3.0, "zero")])
    with torch.no_grad():
        for p in head_parameters(setup.model, "mol").values():
            p.zero_()
    assert zero.penalty(setup.model).item() == 0.0
    assert reg.head_penalties(setup.model)["mol"].item() > 0  # it moved off the snapshot


@pytest.mark.parametrize("target", ["base", "zero"])
def test_gradient_is_two_w_times_the_displacement(tmp_path, target):
    config = _config(tmp_path, reg={"weight": 0.05, "target": target})
    setup = prepare_finetune(config)
    model, reg = setup.model, setup.regularization
    snapshot = {k: v.detach().clone() for k, v in head_parameters(model, "bulk").items()}
    _perturb(model, ["surf", "mol", "bulk"])
    penalty = reg.penalty(model)
    params = list(model.parameters())
    grads = torch.autograd.grad(penalty, params, allow_unused=True)
    by_param = {id(p): g for p, g in zip(params, grads, strict=True)}
    expected_value = 0.0
    for head in ("surf", "mol"):
        for name, p in head_parameters(model, head).items():
            theta0 = snapshot[name] if target == "base" else torch.zeros_like(p)
            torch.testing.assert_close(
                by_param[id(p)], 2 * 0.05 * (p.detach() - theta0), rtol=1e-12, atol=0
            )
            expected_value += 0.05 * float(((p.detach() - theta0) ** 2).sum())
    assert penalty.item() == pytest.approx(expected_value, rel=1e-12)
    # the base head (not regularised here) and the backbone get no gradient
    for p in [*head_parameters(model, "bulk").values(), *model.backbone.parameters()]:
        g = by_param[id(p)]
        assert g is None or torch.count_nonzero(g) == 0


@pytest.mark.parametrize(
    ("reg", "base_reg", "mode", "message"),
    [
        ({"weight": 0.1, "target": "pbe"}, None, "replay", "heads.surf.regularization.target"),
        ({"wieght": 0.1}, None, "replay", "unknown key 'heads.surf.regularization.wieght'"),
        ({"target": "zero"}, None, "replay", "missing required key 'heads.surf."),
        ({"weight": -1.0}, None, "replay", "weight must be >= 0"),
        (None, {"weight": 0.1}, "naive", "finetune.regularization: naive fine-tuning"),
    ],
)
def test_configuration_errors_name_the_key(tmp_path, reg, base_reg, mode, message):
    heads = ("surf",)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        config = _config(tmp_path, mode=mode, heads=heads, reg=reg, base_reg=base_reg)
        prepare_finetune(config)


def test_target_base_needs_fine_tuning_and_known_heads(tmp_path):
    cfg = pretrain_config(tmp_path)
    cfg["heads"]["bulk"]["regularization"] = {"weight": 0.1, "target": "base"}
    config = load_config(write_config(tmp_path / "p.yaml", cfg))
    with pytest.raises(ConfigError, match=r"heads\.bulk\.regularization\.target: 'base'"):
        prepare_pretrain(config)
    cfg["heads"]["bulk"]["regularization"] = {"weight": 0.1}  # pre-training: towards zero
    setup = prepare_pretrain(load_config(write_config(tmp_path / "p.yaml", cfg)))
    assert setup.regularization.penalties == [HeadPenalty("bulk", 0.1, "zero")]
    model = tiny_model()
    with pytest.raises(KeyError, match="unknown head 'pbe'"):
        SelectiveRegularization.from_model(model, [HeadPenalty("pbe", 1.0, "zero")])
    with pytest.raises(ValueError, match="target must be"):
        HeadPenalty("bulk", 1.0, "start")
    with pytest.raises(ValueError, match="needs a base head"):
        SelectiveRegularization.from_model(model, [HeadPenalty("bulk", 1.0, "base")])


def test_penalty_is_logged_and_part_of_the_loss(tmp_path):
    config = _config(
        tmp_path,
        reg={"weight": 0.5},
        **{"training.max_steps": 4, "training.epochs": 1},
    )
    setup = prepare_finetune(config)
    trainer = Trainer(config, setup)
    trainer.fit()
    rows = [r for r in read_log(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "train"]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["loss_regularization"] == 0.0  # the first step starts on the snapshot
    assert all(r["loss_regularization"] > 0 for r in rows[1:])
    lam = {"energy": 1.0, "forces": 10.0, "stress": 10.0}
    for r in rows:
        data = sum(lam[p] * r[f"loss_{p}"] for p in lam if f"loss_{p}" in r)
        assert r["loss"] == pytest.approx(data + r["loss_regularization"], rel=1e-10)
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]
    assert "loss_regularization" in header.split(",")


def test_resume_restores_the_snapshot_from_the_checkpoint(tmp_path):
    config = _config(
        tmp_path,
        reg={"weight": 0.5},
        **{"training.max_steps": 3, "training.epochs": 1},
    )
    setup = prepare_finetune(config)
    original = {k: v.clone() for k, v in setup.regularization.anchor.items()}
    Trainer(config, setup).fit()
    saved = load_checkpoint(tmp_path / "run" / "checkpoint.pt")["regularization"]
    for name, value in original.items():
        assert torch.equal(saved["anchor"][name], value)
    # a set-up whose snapshot was taken from trained weights: resume must not keep it
    again = prepare_finetune(config)
    with torch.no_grad():
        for value in again.regularization.anchor.values():
            value.add_(1.0)
    trainer = Trainer(config, again)
    trainer.resume()
    for name, value in original.items():
        assert torch.equal(trainer.regularization.anchor[name], value)
    # a checkpoint without regularisation cannot be resumed by a run with one
    plain = _config(tmp_path, **{"training.max_steps": 3, "training.epochs": 1})
    with pytest.raises(CheckpointError, match="written with selective regularisation"):
        Trainer(plain, prepare_finetune(plain)).resume()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_counts_the_penalty_once(tmp_path):
    """Two ``torchrun`` processes follow the one-process loss and penalty curves."""
    import os
    import subprocess
    import sys

    from mmh_train.cli import main

    def config(name):
        cfg = pretrain_config(tmp_path, output=str(tmp_path / name))
        cfg["heads"]["bulk"].update(max_train=24, regularization={"weight": 0.02})
        cfg["training"].update(epochs=2, max_steps=8, batch_size=6, checkpoint_every=10)
        return write_config(tmp_path / f"{name}.yaml", cfg)

    assert main(["pretrain", str(config("single"))]) == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    cmd += ["--master-port", str(_free_port()), "-m", "mmh_train.cli", "pretrain"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [*cmd, str(config("ddp"))], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    def rows(name):
        log = read_log(tmp_path / name / "metrics.jsonl")
        return {r["step"]: r for r in log if r["kind"] == "train"}

    single, ddp = rows("single"), rows("ddp")
    assert sorted(single) == sorted(ddp) == list(range(1, 9))
    for step in single:
        for key in ("loss", "loss_regularization"):
            a, b = single[step][key], ddp[step][key]
            assert abs(a - b) < 1e-7 * max(1.0, abs(a)), (step, key, a, b)
    assert single[1]["loss_regularization"] > 0  # towards zero: non-zero from the start
    assert single[8]["loss_regularization"] != single[1]["loss_regularization"]
