"""A run killed with SIGKILL mid-epoch and resumed ends with the same weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from mmh_train import load_checkpoint, read_log
from mmh_train.cli import main
from train_kit import pretrain_config, write_config


def _config(tmp_path, name):
    cfg = pretrain_config(tmp_path, output=str(tmp_path / name))
    cfg["heads"]["bulk"]["max_train"] = 32
    cfg["training"].update(epochs=5, batch_size=4, checkpoint_every=3, deterministic=True)
    return write_config(tmp_path / f"{name}.yaml", cfg)


def _last_step(path):
    steps = [r["step"] for r in read_log(path) if r.get("kind") == "train"]
    return max(steps, default=0)


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, capsys):
    # the run that is never interrupted
    assert main(["pretrain", str(_config(tmp_path, "whole"))]) == 0
    # the run that is killed: 8 steps per epoch, killed in the third epoch
    config = _config(tmp_path, "killed")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmh_train.cli", "pretrain", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    log = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while _last_step(log) < 20:
        assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "the run did not reach step 20 in time"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _last_step(log)
    assert 17 <= killed_at < 40  # mid-epoch, before the end
    checkpoint = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")
    assert checkpoint["step"] < killed_at or checkpoint["step"] % 8 == 0
    capsys.readouterr()
    assert main(["pretrain", str(config), "--resume"]) == 0

    whole = load_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    resumed = load_checkpoint(tmp_path / "killed" / "checkpoint.pt")
    assert whole["step"] == resumed["step"] == 40
    for part in ("model",):
        for name, value in whole[part].items():
            diff = (value - resumed[part][name]).abs().max().item() if value.numel() else 0.0
            assert diff < 1e-8, f"{part}.{name} differs by {diff}"
    for name, value in whole["ema"]["module"].items():
        diff = (value - resumed["ema"]["module"][name]).abs().max().item() if value.numel() else 0.0
        assert diff < 1e-8, f"ema.{name} differs by {diff}"
    # the log reads as one run: every step once, same losses
    a = [r for r in read_log(tmp_path / "whole" / "metrics.jsonl") if r["kind"] == "train"]
    b = [r for r in read_log(tmp_path / "killed" / "metrics.jsonl") if r["kind"] == "train"]
    assert [r["step"] for r in b] == list(range(1, 41))
    for ra, rb in zip(a, b, strict=True):
        assert abs(ra["loss"] - rb["loss"]) < 1e-10
    results = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert results["steps"] == 40
