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


def test_a_typo_in_a_key_map_fails_at_load_and_names_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("heads:\n  pbe:\n    train: [a.xyz]\n    keys: {energy: E, froces: F}\n")
    with pytest.raises(ConfigError, match=r"heads\.pbe\.keys\.froces"):
        load_config(path)
    path.write_text("finetune:\n  model: m.safetensors\n  replay: {keys: {stres: S}}\n")
    with pytest.raises(ConfigError, match=r"finetune\.replay\.keys\.stres"):
        load_config(path)
    path.write_text(
        "heads:\n  pbe:\n    train: [a.xyz]\n    keys: {energy: E, use_calculator: true}\n"
    )
    keys = load_config(path).heads["pbe"].keys
    assert (keys.energy, keys.forces, keys.use_calculator) == ("E", "REF_forces", True)


def test_model_defaults_are_the_librarys_and_presets_fill_unset_keys():
    import dataclasses

    from mmh_layers import BackboneConfig

    library = {f.name: f.default for f in dataclasses.fields(BackboneConfig)}
    model = TrainConfig().model
    for name in ("channels", "max_L", "max_ell", "r_max", "num_bessel", "correlation"):
        assert getattr(model, name) == library[name], name
    mh1 = TrainConfig.from_dict({"model": {"preset": "mh1", "r_max": 5.5}}).model
    assert (mh1.channels, mh1.edge_channels, mh1.r_max, mh1.zbl) == (512, 128, 5.5, True)
    assert mh1.distance_transform == "agnesi" and mh1.agnostic_product is True
    again = TrainConfig.from_dict(TrainConfig(model=mh1).to_dict()).model
    assert again == mh1
    with pytest.raises(ConfigError, match=r"model\.preset"):
        TrainConfig.from_dict({"model": {"preset": "huge"}})
