"""Pre-training on lazily read training files: the same run as from memory."""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms
from heads_for_tests import tiny_model
from mmh_data import ConfigurationSource, configurations_from_atoms, datasets, write_lmdb
from mmh_heads import save_model
from mmh_train import (
    EvaluationGraphs,
    TrainConfig,
    Trainer,
    prepare_finetune,
    prepare_pretrain,
    read_log,
)
from mmh_train.cli import main
from train_kit import (
    assert_same_run,
    finetune_config,
    pretrain_config,
    run_and_sigkill,
    write_config,
)


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


def _split_store(path, split, count):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        configs = configurations_from_atoms(
            datasets.load_atoms("bulk", split)[:count], head="bulk", source=str(path)
        )
    write_lmdb(path, configs)
    return path


def test_streamed_validation_and_test_sets_equal_in_memory(tmp_path):
    files = {
        split: str(_split_store(tmp_path / f"{split}.lmdb", split, count))
        for split, count in (("train", 16), ("valid", 6), ("test", 5))
    }
    runs = {}
    for streaming in ("auto", "off"):
        cfg = pretrain_config(tmp_path, output=str(tmp_path / streaming))
        cfg["heads"] = {
            "bulk": {
                "train": [files["train"]],
                "valid": [files["valid"]],
                "test": [files["test"]],
                "e0s": "average",
            }
        }
        cfg["training"].update(epochs=2, batch_size=4, valid_batch_size=4, streaming=streaming)
        config = TrainConfig.from_dict(cfg)
        setup = prepare_pretrain(config)
        trainer = Trainer(config, setup)
        runs[streaming] = (setup, trainer, trainer.fit())
    (lazy, lazy_trainer, lazy_results), (mem, mem_trainer, mem_results) = runs["auto"], runs["off"]
    for split in ("valid", "test"):
        assert isinstance(getattr(lazy.splits["bulk"], split), ConfigurationSource)
        assert isinstance(getattr(mem.splits["bulk"], split), list)
    assert isinstance(lazy_trainer.valid_graphs["bulk"], EvaluationGraphs)
    assert isinstance(mem_trainer.valid_graphs["bulk"], list)
    assert lazy.splits["bulk"].elements() == mem.splits["bulk"].elements()
    for split in ("valid", "test"):
        assert lazy_results["metrics"][split] == mem_results["metrics"][split]
    lazy_valid = [r for r in read_log(tmp_path / "auto" / "metrics.jsonl") if r["kind"] == "valid"]
    mem_valid = [r for r in read_log(tmp_path / "off" / "metrics.jsonl") if r["kind"] == "valid"]
    assert [r["loss"] for r in lazy_valid] == [r["loss"] for r in mem_valid]


def test_replay_from_a_lazy_pool_selects_and_trains_as_from_memory(tmp_path, monkeypatch):
    import mmh_train._data as data

    streamed = []
    load_streamed = data._load_streamed

    def spy(where, *args, **kwargs):
        streamed.append(where)
        return load_streamed(where, *args, **kwargs)

    monkeypatch.setattr(data, "_load_streamed", spy)
    pool = _split_store(tmp_path / "pool.lmdb", "train", 40)
    save_model(tiny_model(), tmp_path / "base.safetensors")
    runs = {}
    for streaming in ("auto", "off"):
        cfg = finetune_config(
            tmp_path,
            tmp_path / "base.safetensors",
            {"surf": {"dataset": "surf", "max_train": 8}},
            output=str(tmp_path / streaming),
        )
        cfg["finetune"].update(
            mode="replay",
            replay={"train": [str(pool)], "count": 10, "method": "fps", "batch_share": 0.5},
        )
        cfg["training"].update(epochs=1, batch_size=4, streaming=streaming)
        config = TrainConfig.from_dict(cfg)
        setup = prepare_finetune(config)
        runs[streaming] = (setup, Trainer(config, setup).fit())
        assert streamed.count("finetune.replay") == 1  # the lazy pool only with "auto"
    (lazy, lazy_results), (mem, mem_results) = runs["auto"], runs["off"]
    lazy_replay, mem_replay = lazy.streams[-1][1], mem.streams[-1][1]
    assert len(lazy_replay) == len(mem_replay) == 10
    for a, b in zip(lazy_replay, mem_replay, strict=True):
        assert a.source_index == b.source_index
        np.testing.assert_array_equal(a.positions, b.positions)
    assert lazy.summary["replay_pool"] == mem.summary["replay_pool"] == 40
    assert lazy_results["metrics"]["valid"] == mem_results["metrics"]["valid"]
