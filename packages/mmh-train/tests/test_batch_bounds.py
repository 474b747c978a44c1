"""Batches bounded by atoms and edges (exact loss), one graph per structure, and data
workers with exact resume."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from mmh_data import Configuration, DataError, GraphBuilder
from mmh_train import TrainConfig, Trainer, prepare_pretrain, read_log
from mmh_train._steps import split_by_size
from mmh_train.cli import main
from train_kit import assert_same_run, pretrain_config, run_and_sigkill, write_config


def _graphs(sizes, cutoff=3.0):
    builder = GraphBuilder(cutoff, heads=None)
    rng = np.random.default_rng(0)
    out = []
    for k, n in enumerate(sizes):
        pos = rng.random((n, 3)) * (2.0 * n ** (1 / 3)) + np.arange(n)[:, None] * 0.01
        out.append(builder(Configuration([6] * n, pos, source_file="mixed.xyz", source_index=k)))
    return out


def test_groups_never_exceed_the_bounds_on_mixed_sizes():
    graphs = _graphs([2, 30, 5, 17, 1, 40, 3, 3, 25, 8])
    for max_atoms, max_edges in [(40, None), (None, 400), (45, 600), (64, 10_000)]:
        groups, skipped = split_by_size(graphs, max_atoms=max_atoms, max_edges=max_edges)
        assert skipped == 0
        assert [g for group in groups for g in group] == graphs  # order kept, none lost
        for group in groups:
            if max_atoms is not None:
                assert sum(g.num_atoms for g in group) <= max_atoms
            if max_edges is not None:
                assert sum(g.num_edges for g in group) <= max_edges


def test_an_oversized_structure_is_an_error_or_skipped():
    graphs = _graphs([3, 50, 4])
    with pytest.raises(DataError, match=r"mixed\.xyz, frame 1.*max_atoms 20"):
        split_by_size(graphs, max_atoms=20)
    groups, skipped = split_by_size(graphs, max_atoms=20, oversize="skip")
    assert skipped == 1 and [len(g) for g in groups] == [2]


def _losses(path):
    return [r["loss"] for r in read_log(path) if r.get("kind") == "train"]


def test_bounded_passes_give_the_same_steps(tmp_path):
    base = pretrain_config(tmp_path, output=str(tmp_path / "one"))
    base["training"].update(epochs=2, max_steps=4, batch_size=8)
    one_cfg = TrainConfig.from_dict(base)
    one = Trainer(one_cfg, prepare_pretrain(one_cfg))
    one.fit()
    bounded = pretrain_config(tmp_path, output=str(tmp_path / "split"))
    bounded["training"].update(epochs=2, max_steps=4, batch_size=8, max_atoms=40)
    cfg = TrainConfig.from_dict(bounded)
    split = Trainer(cfg, prepare_pretrain(cfg))
    passes = [len(split._batch(t)) for t in range(4)]
    assert max(passes) > 1  # the bound does split the steps
    for t in range(4):
        for b in split._batch(t):
            assert int(b.num_atoms.sum()) <= 40
    split.fit()
    a, b = (
        _losses(tmp_path / "one" / "metrics.jsonl"),
        _losses(tmp_path / "split" / "metrics.jsonl"),
    )
    assert len(a) == len(b) == 4
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for name, value in one.model.state_dict().items():
        diff = (value - split.model.state_dict()[name]).abs().max().item() if value.numel() else 0
        assert diff < 1e-9, name


def test_no_graph_is_built_twice(tmp_path, monkeypatch):
    builds: dict[tuple, int] = {}
    original = GraphBuilder.__call__

    def counting(self, config):
        key = (config.source_file, config.source_index)
        builds[key] = builds.get(key, 0) + 1
        return original(self, config)

    monkeypatch.setattr(GraphBuilder, "__call__", counting)
    cfg = pretrain_config(tmp_path)
    cfg["heads"]["bulk"].update(max_train=12)
    cfg["training"].update(epochs=3, batch_size=4)
    config = TrainConfig.from_dict(cfg)
    setup = prepare_pretrain(config)
    trainer = Trainer(config, setup)
    trainer.fit()  # 3 epochs, validation every epoch, final evaluation of every split
    splits = setup.splits["bulk"]
    expected = len(splits.train) + len(splits.valid) + len(splits.test)
    assert len(builds) == expected and trainer.graph_cache.builds == expected
    assert max(builds.values()) == 1


def _worker_config(tmp_path, name, **training):
    cfg = pretrain_config(tmp_path, output=str(tmp_path / name))
    cfg["heads"]["bulk"]["max_train"] = 32
    cfg["training"].update(
        epochs=5, batch_size=4, checkpoint_every=3, deterministic=True, **training
    )
    return write_config(tmp_path / f"{name}.yaml", cfg)


def _processes_of(config) -> list[int]:
    """Processes whose command line names ``config``."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(config).encode() in cmdline:
            out.append(int(proc.name))
    return out


def test_workers_and_bounds_keep_exact_resume(tmp_path, capsys):
    assert main(["pretrain", str(_worker_config(tmp_path, "whole"))]) == 0
    config = _worker_config(tmp_path, "killed", num_workers=2, max_atoms=48)
    killed_at = run_and_sigkill("pretrain", config, tmp_path / "killed" / "metrics.jsonl", 20)
    assert 17 <= killed_at < 40
    # the data workers end with the killed process
    deadline = time.monotonic() + 30
    while _processes_of(config) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _processes_of(config)
    capsys.readouterr()
    assert main(["pretrain", str(config), "--resume"]) == 0
    assert_same_run(tmp_path / "whole", tmp_path / "killed", 40)
    records = [r for r in read_log(tmp_path / "killed" / "metrics.jsonl") if r["kind"] == "train"]
    assert all("data_wait" in r for r in records)


def test_evaluation_passes_respect_the_bounds_and_give_the_same_metrics(monkeypatch):
    import mmh_train._evaluate as evaluate_module
    import torch
    from heads_for_tests import tiny_model
    from mmh_data import GraphBuilder, configurations_from_atoms
    from mmh_data import datasets as bundled
    from mmh_train import LossWeights, evaluate_heads

    model = tiny_model()
    frames = bundled.load_atoms("bulk", "test")[:30]
    configs = configurations_from_atoms(frames, head="bulk", heads=model.heads)
    builder = GraphBuilder(model.backbone.config.r_max, heads=model.heads, dtype=torch.float64)
    graphs = {"bulk": [builder(c) for c in configs]}
    largest = max(g.num_atoms for g in graphs["bulk"])
    whole = evaluate_heads(model, graphs, loss_weights=LossWeights(), batch_size=10)["bulk"]

    sizes = []
    collate = evaluate_module.collate

    def recording(group, **kw):
        sizes.append(sum(g.num_atoms for g in group))
        return collate(group, **kw)

    monkeypatch.setattr(evaluate_module, "collate", recording)
    bound = largest + 4
    bounded = evaluate_heads(
        model, graphs, loss_weights=LossWeights(), batch_size=10, max_atoms=bound
    )["bulk"]
    assert len(sizes) > 3 and max(sizes) <= bound
    for key, value in whole.items():
        assert bounded[key] == pytest.approx(value, rel=1e-12), key
    sizes.clear()
    evaluate_heads(model, graphs, loss_weights=LossWeights(), batch_size=10, max_atoms=1)
    assert len(sizes) == len(graphs["bulk"])  # each structure alone, none left out
