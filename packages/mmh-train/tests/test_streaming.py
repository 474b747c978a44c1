"""Pre-training on lazily read training files: the same run as from memory."""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms
from mmh_data import ConfigurationSource, configurations_from_atoms, datasets, write_lmdb
from mmh_train import TrainConfig, Trainer, prepare_pretrain, read_log
from mmh_train.cli import main
from train_kit import assert_same_run, pretrain_config, run_and_sigkill, write_config


def _store(path):
    frames = datasets.load_atoms("bulk", "train")[:24]
    atom = Atoms("Si", positions=[[0, 0, 0]])
    atom.info.update(REF_energy=-0.5, config_type="IsolatedAtom")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        configs = configurations_from_atoms(
            [*frames[:5], atom, *frames[5:]], head="bulk", source=str(path)
        )
    write_lmdb(path, configs)
    return path


def _run(tmp_path, name, store, streaming, **training):
    cfg = pretrain_config(tmp_path, output=str(tmp_path / name))
    cfg["heads"] = {"bulk": {"train": [str(store)], "valid_fraction": 0.2, "e0s": "average"}}
    cfg["training"].update(epochs=2, batch_size=4, streaming=streaming, **training)
    config = TrainConfig.from_dict(cfg)
    setup = prepare_pretrain(config)
    trainer = Trainer(config, setup)
    results = trainer.fit()
    losses = [
        r["loss"] for r in read_log(tmp_path / name / "metrics.jsonl") if r["kind"] == "train"
    ]
    return setup, trainer, results, losses


def test_streamed_training_equals_training_from_memory(tmp_path):
    store = _store(tmp_path / "bulk.lmdb")
    lazy, lazy_trainer, lazy_results, lazy_losses = _run(tmp_path, "lazy", store, "auto")
    mem, _, mem_results, mem_losses = _run(tmp_path, "memory", store, "off")
    assert isinstance(lazy.splits["bulk"].train, ConfigurationSource)
    assert isinstance(mem.splits["bulk"].train, list)
    assert len(lazy.splits["bulk"].train) == len(mem.splits["bulk"].train) == 19
    assert lazy.summary["scale"] == mem.summary["scale"]
    assert lazy.model.head_e0s("bulk") == mem.model.head_e0s("bulk")
    assert lazy_trainer.graph_cache is None  # graphs are built when a step needs them
    np.testing.assert_allclose(lazy_losses, mem_losses, rtol=1e-12, atol=0)
    assert "train" not in lazy_results["metrics"] or not lazy_results["metrics"]["train"]
    assert lazy_results["metrics"]["valid"] == mem_results["metrics"]["valid"]


def test_sigkill_and_resume_with_a_streamed_store_and_workers(tmp_path, capsys):
    store = _store(tmp_path / "bulk.lmdb")

    def config(name, **training):
        cfg = pretrain_config(tmp_path, output=str(tmp_path / name))
        cfg["heads"] = {"bulk": {"train": [str(store)], "e0s": "average"}}
        cfg["training"].update(
            epochs=8, batch_size=4, checkpoint_every=3, deterministic=True, **training
        )
        return write_config(tmp_path / f"{name}.yaml", cfg)

    assert main(["pretrain", str(config("whole"))]) == 0
    killed = config("killed", num_workers=2)
    killed_at = run_and_sigkill("pretrain", killed, tmp_path / "killed" / "metrics.jsonl", 20)
    assert 17 <= killed_at < 48
    capsys.readouterr()
    assert main(["pretrain", str(killed), "--resume"]) == 0
    assert_same_run(tmp_path / "whole", tmp_path / "killed", 48)
