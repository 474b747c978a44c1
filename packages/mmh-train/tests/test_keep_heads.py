"""``finetune.keep_heads``: other heads of a multi-head input model stay, frozen or trained
on their own data, with their names, E0s, scale and shift."""

from __future__ import annotations

import pytest
import torch
from heads_for_tests import tiny_model
from mmh_data import GraphBuilder, collate, configurations_from_atoms, datasets
from mmh_heads import load_model, save_model
from mmh_train import Trainer, group_parameters, load_config, prepare_finetune
from mmh_train.cli import main
from train_kit import finetune_config, write_config

REPLAY = {"dataset": "bulk", "count": 8, "batch_share": 0.25}


def _model_file(tmp_path):
    model = tiny_model(extra_heads=("surf",))
    path = tmp_path / "two-heads.safetensors"
    save_model(model, path)
    return model, path


def _config(tmp_path, path, heads=None, **changes):
    heads = heads or {"mol": {"dataset": "mol", "max_train": 12}}
    cfg = finetune_config(
        tmp_path,
        path,
        heads,
        **{"finetune.base_head": "bulk", "finetune.replay": REPLAY, **changes},
    )
    return write_config(tmp_path / "ft.yaml", cfg)


def _predict(model, head, configs):
    builder = GraphBuilder(model.backbone.config.r_max, heads=model.heads, dtype=model.dtype)
    batch = collate([builder(c.replace(head=head)) for c in configs])
    out = model(batch, compute_forces=True, compute_stress=False)
    return out["energy"].detach(), out["forces"].detach()


def _surfaces(count=6):
    atoms = datasets.load_atoms("surf", "test")[:count]
    return configurations_from_atoms(atoms, head="surf", heads=["surf"])


def test_by_default_only_the_base_head_is_kept(tmp_path):
    _, path = _model_file(tmp_path)
    setup = prepare_finetune(load_config(_config(tmp_path, path)))
    assert setup.model.heads == ["bulk", "mol"]
    assert setup.summary["kept_heads"] == {}


def test_frozen_kept_head_with_frozen_backbone_predicts_bit_identically(tmp_path):
    source, path = _model_file(tmp_path)
    config = load_config(
        _config(
            tmp_path,
            path,
            **{"finetune.keep_heads": "all", "finetune.freeze": ["backbone"]},
            **{"training.max_steps": 4},
        )
    )
    setup = prepare_finetune(config)
    assert setup.model.heads == ["bulk", "surf", "mol"]
    assert setup.summary["kept_heads"] == {"surf": "frozen"}
    assert setup.summary["frozen"] == ["backbone", "readouts.surf"]
    Trainer(config, setup).fit()
    tuned = load_model(tmp_path / "run" / "model.safetensors")
    assert tuned.heads == ["bulk", "surf", "mol"]
    assert tuned.head_e0s("surf") == source.head_e0s("surf")
    k = tuned.head_index("surf")
    assert float(tuned.scale[k]) == float(source.scale[1])
    assert float(tuned.shift[k]) == float(source.shift[1])
    configs = _surfaces()
    before, after = _predict(source, "surf", configs), _predict(tuned, "surf", configs)
    for a, b in zip(before, after, strict=True):
        assert torch.equal(a, b)
    # the base head trained (its readout is not frozen)
    assert not torch.equal(tuned.readouts[0].mlp_out, source.readouts[0].mlp_out)


def test_frozen_kept_head_follows_a_training_backbone(tmp_path):
    source, path = _model_file(tmp_path)
    config = load_config(
        _config(tmp_path, path, **{"finetune.keep_heads": ["surf"], "training.max_steps": 4})
    )
    setup = prepare_finetune(config)
    before = [p.detach().clone() for p in group_parameters(setup.model, "readouts.surf")]
    trainer = Trainer(config, setup)
    trainer.fit()
    after = group_parameters(trainer.model, "readouts.surf")
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    configs = _surfaces(3)
    e0, _ = _predict(source, "surf", configs)
    e1, _ = _predict(trainer.eval_model, "surf", configs)
    assert not torch.equal(e0, e1)  # the shared backbone moved under the frozen readout


def test_kept_head_listed_under_heads_trains_on_its_data(tmp_path):
    source, path = _model_file(tmp_path)
    heads = {
        "surf": {"dataset": "surf", "max_train": 12},
        "mol": {"dataset": "mol", "max_train": 12},
    }
    config = load_config(
        _config(tmp_path, path, heads, **{"finetune.keep_heads": ["surf"], "training.max_steps": 4})
    )
    setup = prepare_finetune(config)
    assert setup.model.heads == ["bulk", "surf", "mol"]
    assert setup.summary["kept_heads"] == {"surf": "trained"}
    assert setup.summary["e0s_method"]["surf"] == "kept"
    assert setup.model.head_e0s("surf") == source.head_e0s("surf")
    assert [s.name for s, _ in setup.streams] == ["surf", "mol", "bulk (replay)"]
    # the kept readout is the model's own, not a copy of the base head's
    assert torch.equal(setup.model.readouts[1].linear, source.readouts[1].linear)
    trainer = Trainer(config, setup)
    trainer.fit()
    assert not torch.equal(trainer.model.readouts[1].linear, source.readouts[1].linear)


@pytest.mark.parametrize(
    ("changes", "heads", "fragments"),
    [
        (
            {"finetune.keep_heads": ["surf", "r2scan"]},
            None,
            ["finetune.keep_heads", "'r2scan'", "['bulk', 'surf']"],
        ),
        (
            {},
            {"surf": {"dataset": "surf", "max_train": 4}},
            ["heads.surf", "not kept", "finetune.keep_heads"],
        ),
        (
            {"finetune.keep_heads": "some"},
            None,
            ["finetune.keep_heads: 'some' is not"],
        ),
        (
            {"finetune.keep_heads": "all", "finetune.mode": "naive"},
            None,
            ["naive fine-tuning keeps one head"],
        ),
    ],
)
def test_bad_kept_heads_stop_at_start_up(tmp_path, capsys, changes, heads, fragments):
    _, path = _model_file(tmp_path)
    code = main(["finetune", str(_config(tmp_path, path, heads, **changes))])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("mmh-train: error:") and "\n" not in err
    for fragment in fragments:
        assert fragment in err
