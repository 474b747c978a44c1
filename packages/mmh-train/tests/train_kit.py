"""Small configurations and data files for the mmh-train tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import ase.io
import yaml
from mmh_data import datasets
from mmh_train import load_checkpoint, read_log

#: A model small enough for a step in a few milliseconds.
TINY_MODEL = {
    "channels": 4,
    "max_L": 1,
    "max_ell": 1,
    "correlation": 2,
    "num_bessel": 4,
    "radial_mlp": [8],
    "r_max": 4.0,
    "readout_hidden": 4,
}


def write_frames(
    path: Path, dataset: str, split: str, count: int, labels: bool = True, **info
) -> Path:
    """Write the first ``count`` frames of a bundled split to an extxyz file (without
    energies, forces and stresses when ``labels`` is false)."""
    frames = datasets.load_atoms(dataset, split)[:count]
    for atoms in frames:
        atoms.info.update(info)
        if not labels:
            atoms.calc = None
            for key in [k for k in atoms.info if "energy" in k or "stress" in k]:
                del atoms.info[key]
            for key in [k for k in atoms.arrays if "forces" in k]:
                del atoms.arrays[key]
    ase.io.write(path, frames, format="extxyz")
    return path


def pretrain_config(tmp: Path, **changes) -> dict:
    """A tiny float64 pre-training configuration on 20 bulk crystals (plain data)."""
    cfg = {
        "output": str(tmp / "run"),
        "seed": 3,
        "dtype": "float64",
        "device": "cpu",
        "model": dict(TINY_MODEL),
        "heads": {"bulk": {"dataset": "bulk", "max_train": 20}},
        "optimizer": {"lr": 0.01, "ema_decay": 0.9},
        "training": {
            "epochs": 2,
            "batch_size": 4,
            "valid_batch_size": 40,
            "checkpoint_every": 2,
            "num_threads": 1,
        },
        "logging": {"progress": False, "tensorboard": False, "plots": False, "log_every": 1},
    }
    for key, value in changes.items():
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return cfg


def finetune_config(tmp: Path, model_file: Path, heads: dict, **changes) -> dict:
    """A fine-tuning configuration of ``model_file`` with new ``heads`` (plain data): the
    tiny pre-training settings without a ``model`` section; ``changes`` as in
    `pretrain_config` (``finetune.mode=...``, ``finetune.replay={...}``)."""
    cfg = pretrain_config(tmp, heads=heads, finetune={"model": str(model_file)}, **changes)
    cfg.pop("model")
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    """Write a configuration as YAML."""
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def last_logged_step(log: Path) -> int:
    """The last step of the training records of a run log (0 before the first)."""
    steps = [r["step"] for r in read_log(log) if r.get("kind") == "train"]
    return max(steps, default=0)


def run_and_sigkill(command: str, config: Path, log: Path, after_step: int) -> int:
    """Run ``mmh-train COMMAND CONFIG`` in a subprocess and SIGKILL it once its log has
    reached ``after_step``; returns the last step it logged."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmh_train.cli", command, str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while last_logged_step(log) < after_step:
        assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read()}"
        assert time.monotonic() < deadline, f"the run did not reach step {after_step} in time"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return last_logged_step(log)


def assert_same_run(whole: Path, resumed: Path, steps: int, parts=("model",)) -> None:
    """Two run directories end with the same checkpoint (the state dicts of ``parts``, the
    EMA weights and the learning rates) and the same logged training losses, every step
    once."""
    a, b = load_checkpoint(whole / "checkpoint.pt"), load_checkpoint(resumed / "checkpoint.pt")
    assert a["step"] == b["step"] == steps
    named = [(p, a[p], b[p]) for p in parts] + [("ema", a["ema"]["module"], b["ema"]["module"])]
    for part, left, right in named:
        for name, value in left.items():
            diff = (value - right[name]).abs().max().item() if value.numel() else 0.0
            assert diff < 1e-8, f"{part}.{name} differs by {diff}"
    lrs = [[g["lr"] for g in c["optimizer"]["param_groups"]] for c in (a, b)]
    assert lrs[0] == lrs[1]
    ra = [r for r in read_log(whole / "metrics.jsonl") if r["kind"] == "train"]
    rb = [r for r in read_log(resumed / "metrics.jsonl") if r["kind"] == "train"]
    assert [r["step"] for r in rb] == list(range(1, steps + 1))
    for x, y in zip(ra, rb, strict=True):
        assert abs(x["loss"] - y["loss"]) < 1e-10
