"""Fine-tuning set-up and a short run: base head kept, new heads from its readout,
estimated E0s, the replay buffer and its share of every batch."""

from __future__ import annotations

import pytest
import torch
from heads_for_tests import tiny_model
from mmh_data import GraphBuilder, collate
from mmh_heads import load_model, save_model
from mmh_train import ConfigError, Trainer, load_config, prepare_finetune
from train_kit import pretrain_config, write_config


def _finetune_config(tmp_path, mode="replay", new_heads=("surf", "mol"), **changes):
    base = tiny_model()
    save_model(base, tmp_path / "base.safetensors")
    replay = {"dataset": "bulk", "count": 12, "batch_share": 0.25, "weight": 0.5}
    cfg = pretrain_config(
        tmp_path,
        heads={name: {"dataset": name, "max_train": 16} for name in new_heads},
        finetune={"model": str(tmp_path / "base.safetensors"), "mode": mode, "replay": replay},
        **changes,
    )
    cfg.pop("model")
    return load_config(write_config(tmp_path / "ft.yaml", cfg)), base


def test_setup_keeps_the_base_head_and_copies_its_readout(tmp_path):
    config, base = _finetune_config(tmp_path)
    setup = prepare_finetune(config)
    model = setup.model
    assert model.heads == ["bulk", "surf", "mol"]
    assert model.head_e0s("bulk") == base.head_e0s("bulk")
    # estimated E0s differ from the base head's (GFN2 molecules, GFN1 surfaces)
    assert model.head_e0s("mol")[6] != base.head_e0s("bulk")[6]
    for k in (1, 2):
        for p, q in zip(model.readouts[k].parameters(), base.readouts[0].parameters(), strict=True):
            assert torch.equal(p, q)
    # a new head predicts the base head's interaction energy: only the E0s differ
    configs = setup.splits["mol"].train[:3]
    builder = GraphBuilder(model.backbone.config.r_max, heads=model.heads, dtype=model.dtype)
    batch = collate([builder(c) for c in configs])
    e_mol = model(batch, compute_forces=False, compute_stress=False)["energy"]
    batch.head = torch.zeros_like(batch.head)
    e_base = model(batch, compute_forces=False, compute_stress=False)["energy"]
    e0_shift = torch.tensor(
        [
            sum(
                model.head_e0s("mol")[int(z)] - model.head_e0s("bulk")[int(z)]
                for z in c.atomic_numbers
            )
            for c in configs
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(e_mol - e_base, e0_shift, rtol=1e-12, atol=1e-9)


def test_replay_buffer_count_weight_and_share(tmp_path):
    config, _ = _finetune_config(tmp_path)
    setup = prepare_finetune(config)
    sources = [s for s, _ in setup.streams]
    assert [s.name for s in sources] == ["surf", "mol", "bulk (replay)"]
    replay = setup.streams[-1][1]
    assert len(replay) == 12
    assert all(c.head == "bulk" and c.weight == 0.5 for c in replay)
    trainer = Trainer(config, setup)
    assert trainer.plan.counts[2] == 1 and sum(trainer.plan.counts) == 4  # 25 % replay
    assert setup.valid_weights == {"bulk": 1.0, "surf": 1.0, "mol": 1.0}


def test_no_replay_mode_keeps_the_base_head_without_data(tmp_path):
    config, _ = _finetune_config(tmp_path, mode="no-replay")
    setup = prepare_finetune(config)
    assert [s.name for s, _ in setup.streams] == ["surf", "mol"]
    assert setup.valid_weights["bulk"] == 0.0
    assert setup.splits["bulk"].test  # the base head is still evaluated


def test_naive_mode_trains_the_base_readout_as_the_one_new_head(tmp_path):
    config, base = _finetune_config(tmp_path, mode="naive")
    with pytest.raises(ConfigError, match="naive fine-tuning trains one head"):
        prepare_finetune(config)
    config, base = _finetune_config(tmp_path, mode="naive", new_heads=("mol",))
    setup = prepare_finetune(config)
    model = setup.model
    assert model.heads == ["mol"]
    assert [s.name for s, _ in setup.streams] == ["mol"]
    assert list(setup.splits) == ["mol"]
    for p, q in zip(model.readouts[0].parameters(), base.readouts[0].parameters(), strict=True):
        assert torch.equal(p, q)
    assert model.head_e0s("mol")[6] != base.head_e0s("bulk")[6]


def test_short_finetune_trains_every_head(tmp_path):
    config, base = _finetune_config(tmp_path, **{"training.epochs": 1, "training.max_steps": 4})
    setup = prepare_finetune(config)
    before = [
        torch.cat([p.detach().flatten() for p in r.parameters()]).clone()
        for r in setup.model.readouts
    ]
    trainer = Trainer(config, setup)
    results = trainer.fit()
    for k, r in enumerate(trainer.model.readouts):
        after = torch.cat([p.detach().flatten() for p in r.parameters()])
        assert not torch.equal(after, before[k]), f"head {trainer.model.heads[k]} did not train"
    assert set(results["metrics"]["test"]) == {"bulk", "surf", "mol"}
    saved = load_model(tmp_path / "run" / "model.safetensors")
    assert saved.heads == ["bulk", "surf", "mol"]
    assert saved.head_e0s("bulk") == base.head_e0s("bulk")
