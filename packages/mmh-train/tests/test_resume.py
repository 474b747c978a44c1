"""A run killed with SIGKILL mid-epoch and resumed ends with the same weights."""

from __future__ import annotations

import json

from mmh_train import load_checkpoint
from mmh_train.cli import main
from train_kit import assert_same_run, pretrain_config, run_and_sigkill, write_config


def _config(tmp_path, name):
    cfg = pretrain_config(tmp_path, output=str(tmp_path / name))
    cfg["heads"]["bulk"]["max_train"] = 32
    cfg["training"].update(epochs=5, batch_size=4, checkpoint_every=3, deterministic=True)
    return write_config(tmp_path / f"{name}.yaml", cfg)


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, capsys):
    # the run that is never interrupted
    assert main(["pretrain", str(_config(tmp_path, "whole"))]) == 0
    # the run that is killed: 8 steps per epoch, killed in the third epoch
    config = _config(tmp_path, "killed")
    killed_at = run_and_sigkill("pretrain", config, tmp_path / "killed" / "metrics.jsonl", 20)
    assert 17 <= killed_at < 40  # mid-epoch, before the end
    checkpoint = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")
    assert checkpoint["step"] < killed_at or checkpoint["step"] % 8 == 0
    capsys.readouterr()
    assert main(["pretrain", str(config), "--resume"]) == 0

    # the same weights, EMA weights and log: every step once, same losses
    assert_same_run(tmp_path / "whole", tmp_path / "killed", 40)
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert results["steps"] == 40
