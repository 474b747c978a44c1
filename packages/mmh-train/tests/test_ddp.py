"""Two ``torchrun`` processes (gloo, CPU) follow the single-process loss curve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from mmh_train import read_log
from mmh_train.cli import main
from train_kit import pretrain_config, write_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path, name):
    cfg = pretrain_config(tmp_path, output=str(tmp_path / name))
    cfg["heads"]["bulk"]["max_train"] = 48
    cfg["training"].update(epochs=3, max_steps=20, batch_size=6, checkpoint_every=10)
    return write_config(tmp_path / f"{name}.yaml", cfg)


def _losses(path):
    return {r["step"]: r["loss"] for r in read_log(path) if r.get("kind") == "train"}


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path):
    assert main(["pretrain", str(_config(tmp_path, "single"))]) == 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "mmh_train.cli",
        "pretrain",
        str(_config(tmp_path, "ddp")),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single = _losses(tmp_path / "single" / "metrics.jsonl")
    ddp = _losses(tmp_path / "ddp" / "metrics.jsonl")
    assert sorted(single) == sorted(ddp) == list(range(1, 21))
    for step in range(1, 21):
        assert abs(single[step] - ddp[step]) < 1e-5 * max(1.0, abs(single[step])), step
    # and the curve is not trivially flat
    assert single[20] != single[1]
