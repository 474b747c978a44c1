"""The YAML configuration: typed sections, unknown keys and overrides."""

from __future__ import annotations

import pytest
from mmh_train import ConfigError, TrainConfig, load_config


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_and_types(tmp_path):
    cfg = load_config(_write(tmp_path, "optimizer:\n  lr: 1e-3\ntraining:\n  epochs: 3\n"))
    assert isinstance(cfg, TrainConfig)
    assert cfg.optimizer.lr == 1e-3  # YAML reads 1e-3 as a string; it is converted
    assert cfg.optimizer.amsgrad is True
    assert cfg.training.epochs == 3
    assert cfg.loss.weights().forces == 10.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("optimiser:\n  lr: 0.1\n", "unknown key 'optimiser'"),
        ("optimizer:\n  learning_rate: 0.1\n", "unknown key 'optimizer.learning_rate'"),
        ("heads:\n  pbe:\n    datset: bulk\n", "unknown key 'heads.pbe.datset'"),
        ("training:\n  epochs: many\n", "training.epochs: expected an integer"),
        ("dtype: float16\n", "dtype: 'float16' is not one of"),
        ("finetune:\n  mode: replay\n", "missing required key 'finetune.model'"),
        ("training:\n  batch_size: 0\n", "batch_size must be >= 1"),
        ("heads:\n  a:\n    e0s: guess\n", "e0s must be"),
    ],
)
def test_bad_configurations_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(_write(tmp_path, text))


def test_overrides(tmp_path):
    cfg = load_config(
        _write(tmp_path, "training:\n  epochs: 3\n"),
        ["training.epochs=7", "heads.bulk.dataset=bulk", "optimizer.clip_grad=null"],
    )
    assert cfg.training.epochs == 7
    assert cfg.heads["bulk"].dataset == "bulk"
    assert cfg.optimizer.clip_grad is None
    with pytest.raises(ConfigError, match=r"unknown key 'training\.epoch'"):
        load_config(None, ["training.epoch=2"])


def test_round_trip(tmp_path):
    cfg = load_config(_write(tmp_path, "heads:\n  x:\n    train: [a.xyz]\n    e0s: {1: -13.6}\n"))
    again = TrainConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert again.heads["x"].e0s == {1: -13.6}


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
