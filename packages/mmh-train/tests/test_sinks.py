"""Logging sinks: W&B (a stand-in module, and the real package in offline mode when it is
installed), and a warning when a requested sink cannot be used; the learning-curve plot
has no empty panels."""

from __future__ import annotations

import json
import sys
import types

import matplotlib.image
import pytest
from mmh_train import LoggingSinkWarning, RunLog, load_config, plot_learning_curves
from mmh_train.cli import main
from train_kit import pretrain_config, write_config


class _FakeRun:
    def __init__(self, calls, **kwargs):
        self.calls, self.id = calls, kwargs.get("id") or "run-123"
        calls.append(("init", kwargs))

    def log(self, data, step):
        self.calls.append(("log", step, data))

    def finish(self):
        self.calls.append(("finish",))


@pytest.fixture
def fake_wandb(monkeypatch):
    calls: list = []
    module = types.ModuleType("wandb")
    module.init = lambda **kwargs: _FakeRun(calls, **kwargs)
    monkeypatch.setitem(sys.modules, "wandb", module)
    return calls


def test_wandb_gets_every_record_and_the_run_config(tmp_path, fake_wandb):
    log = RunLog(
        tmp_path,
        tensorboard=False,
        wandb={"project": "mmh", "name": "a", "mode": "offline", "entity": None, "tags": []},
        run_config={"seed": 3},
    )
    log.write({"kind": "train", "step": 1, "epoch": 0, "loss": 0.5, "lr": 0.01})
    log.write({"kind": "valid", "step": 2, "epoch": 0, "head": "bulk", "energy_mae": 3.0})
    log.close()
    init = fake_wandb[0][1]
    assert init["project"] == "mmh" and init["name"] == "a" and init["mode"] == "offline"
    assert "entity" not in init and "tags" not in init  # unset options are left to W&B
    assert init["config"] == {"seed": 3} and init["dir"] == str(tmp_path)
    assert fake_wandb[1] == ("log", 1, {"train/loss": 0.5, "train/lr": 0.01})
    assert fake_wandb[2] == ("log", 2, {"valid/bulk/energy_mae": 3.0})
    assert fake_wandb[-1] == ("finish",)
    assert json.loads((tmp_path / "wandb-run.json").read_text())["id"] == "run-123"
    # a resumed run continues the same W&B run
    RunLog(tmp_path, tensorboard=False, resume_step=2, wandb={"project": "mmh"}).close()
    resumed = [c for c in fake_wandb if c[0] == "init"][-1][1]
    assert resumed["id"] == "run-123" and resumed["resume"] == "allow"


def test_wandb_section_of_the_config_reaches_the_run(tmp_path, fake_wandb):
    cfg = pretrain_config(tmp_path, heads={"bulk": {"dataset": "bulk", "max_train": 8}})
    cfg["training"].update(epochs=1, max_steps=2)
    cfg["logging"]["wandb"] = {"project": "mmh-tests", "name": "tiny", "mode": "disabled"}
    assert main(["pretrain", str(write_config(tmp_path / "c.yaml", cfg))]) == 0
    init = fake_wandb[0][1]
    assert (init["project"], init["name"], init["mode"]) == ("mmh-tests", "tiny", "disabled")
    assert init["config"]["logging"]["wandb"]["project"] == "mmh-tests"
    assert any(c[0] == "log" and "train/loss" in c[2] for c in fake_wandb)
    assert "W&B run run-123" in (tmp_path / "run" / "train.log").read_text()


def test_wandb_config_is_checked(tmp_path):
    with pytest.raises(ValueError, match=r"logging\.wandb\.mode"):
        load_config(
            write_config(tmp_path / "c.yaml", {"logging": {"wandb": {"project": "p", "mode": "x"}}})
        )
    with pytest.raises(ValueError, match=r"missing required key 'logging\.wandb\.project'"):
        load_config(write_config(tmp_path / "c.yaml", {"logging": {"wandb": {"name": "n"}}}))


def test_missing_wandb_is_a_warning_not_silence(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    with pytest.warns(LoggingSinkWarning, match=r"mmh-train\[wandb\]"):
        log = RunLog(tmp_path, tensorboard=False, wandb={"project": "p"})
    log.write({"kind": "train", "step": 1, "loss": 1.0})  # the run goes on
    log.close()
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 1


def test_missing_tensorboard_is_a_warning_in_the_train_log(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    cfg = pretrain_config(tmp_path, heads={"bulk": {"dataset": "bulk", "max_train": 8}})
    cfg["training"].update(epochs=1, max_steps=1)
    cfg["logging"]["tensorboard"] = True
    with pytest.warns(LoggingSinkWarning, match="TensorBoard cannot be used"):
        assert main(["pretrain", str(write_config(tmp_path / "c.yaml", cfg))]) == 0
    text = (tmp_path / "run" / "train.log").read_text()
    assert "WARNING logging.tensorboard is on, but TensorBoard cannot be used" in text


def test_real_wandb_offline(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb", reason="wandb is not installed (mmh-train[wandb])")
    monkeypatch.setenv("WANDB_SILENT", "true")
    log = RunLog(tmp_path, tensorboard=False, wandb={"project": "mmh-tests", "mode": "offline"})
    log.write({"kind": "train", "step": 1, "loss": 0.5})
    log.close()
    assert (tmp_path / "wandb-run.json").is_file()
    assert (tmp_path / "wandb").is_dir()
    assert wandb.run is None


def _panels(path) -> int:
    width = matplotlib.image.imread(path).shape[1]
    return round(width / 550)  # 5 inches per panel at 110 dpi


def test_plot_without_validation_has_no_empty_panels(tmp_path):
    log = RunLog(tmp_path, tensorboard=False)
    for step in range(1, 6):
        log.write({"kind": "train", "step": step, "epoch": 0, "loss": 1.0 / step})
    log.close()
    assert _panels(plot_learning_curves(log.jsonl, tmp_path / "a.png")) == 1
    log = RunLog(tmp_path / "b", tensorboard=False)
    log.write({"kind": "train", "step": 1, "epoch": 0, "loss": 1.0})
    log.write({"kind": "valid", "step": 1, "head": "mol", "energy_rmse": 3.0})
    log.write({"kind": "valid_combined", "step": 1, "loss": 2.0})
    log.close()
    assert _panels(plot_learning_curves(log.jsonl, tmp_path / "b.png")) == 2
    log = RunLog(tmp_path / "c", tensorboard=False)
    log.write({"kind": "valid", "step": 1, "head": "mol", "energy_rmse": 3.0, "forces_rmse": 9.0})
    log.close()
    assert _panels(plot_learning_curves(log.jsonl, tmp_path / "c.png")) == 3
