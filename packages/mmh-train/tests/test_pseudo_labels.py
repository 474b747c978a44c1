"""Pseudo-labelled replay: the base head's own predictions label the replay structures,
once, in a plain file of the run directory that a resumed run reads back; they anchor the
base head while the new heads train."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from heads_for_tests import tiny_model
from mmh_data import GraphBuilder, collate
from mmh_heads import save_model
from mmh_train import (
    PSEUDO_LABELS_NAME,
    Trainer,
    load_config,
    prepare_finetune,
    read_pseudo_labels,
    structure_key,
)
from mmh_train import _pseudo as pseudo_module
from mmh_train.cli import main
from train_kit import (
    assert_same_run,
    finetune_config,
    run_and_sigkill,
    write_config,
    write_frames,
)


def _replay_files(tmp_path, labels=False, pool=20):
    """A replay pool of ``pool`` bulk crystals and a validation file of 4 (unlabelled by
    default)."""
    train = write_frames(tmp_path / "pool.xyz", "bulk", "train", pool, labels=labels)
    valid = write_frames(tmp_path / "pool-valid.xyz", "bulk", "valid", 4, labels=labels)
    return {"train": [str(train)], "valid": [str(valid)], "count": 8, "labels": "pseudo"}


def _config(tmp_path, name="run", replay=None, seed=0, **changes):
    model_file = tmp_path / f"base-{seed}.safetensors"
    save_model(tiny_model(seed=seed), model_file)
    replay = {"batch_share": 0.25, **(replay or _replay_files(tmp_path))}
    cfg = finetune_config(
        tmp_path,
        model_file,
        {"mol": {"dataset": "mol", "max_train": 12}},
        output=str(tmp_path / name),
        **{"finetune.replay": replay, **changes},
    )
    return write_config(tmp_path / f"{name}.yaml", cfg)


def _predict(model, head, configs):
    """Energy per atom, forces and stress of ``head``, in one batch."""
    builder = GraphBuilder(model.backbone.config.r_max, heads=model.heads, dtype=model.dtype)
    batch = collate([builder(c.replace(head=head)) for c in configs])
    out = model(batch, compute_forces=True, compute_stress=True)
    atoms = torch.tensor([c.num_atoms for c in configs], dtype=model.dtype)
    return out["energy"].detach() / atoms, out["forces"].detach(), out["stress"].detach()


def test_pseudo_labels_are_the_base_heads_predictions_and_are_read_back(tmp_path, monkeypatch):
    config = load_config(_config(tmp_path))
    setup = prepare_finetune(config)
    assert setup.summary["pseudo_labels"]["status"] == "computed"
    replay, valid = setup.splits["bulk"].train, setup.splits["bulk"].valid
    assert len(replay) == 8 and len(valid) == 4
    source = tiny_model()
    e, f, s = _predict(source, "bulk", replay)
    atoms = np.array([c.num_atoms for c in replay])
    np.testing.assert_allclose([c.energy for c in replay] / atoms, e.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([c.forces for c in replay]), f.numpy(), atol=1e-12)
    np.testing.assert_allclose(np.stack([c.stress for c in replay]), s.numpy(), atol=1e-12)
    assert all(c.stress_weight == 1.0 and c.weight == 1.0 for c in replay)
    assert all(c.energy is not None and c.forces is not None for c in valid)
    # the file: plain arrays, keyed by structure, with the provenance
    path = tmp_path / "run" / PSEUDO_LABELS_NAME
    labels, meta = read_pseudo_labels(path)
    assert meta["head"] == "bulk" and meta["dtype"] == "float64"
    assert {structure_key(c) for c in replay + valid} == set(labels)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) >= {"keys", "energy", "forces", "stress", "meta"}

    # a second set-up reads the file instead of predicting again
    def no_prediction(*args, **kwargs):
        raise AssertionError("the pseudo-labels were computed again")

    monkeypatch.setattr(pseudo_module, "predict_labels", no_prediction)
    again = prepare_finetune(config)
    assert again.summary["pseudo_labels"]["status"] == "read"
    for a, b in zip(replay, again.splits["bulk"].train, strict=True):
        assert a.energy == b.energy and np.array_equal(a.forces, b.forces)
        assert np.array_equal(a.stress, b.stress)
    monkeypatch.undo()
    # another input model: the file does not match and is written again
    other = load_config(_config(tmp_path, seed=1))
    assert prepare_finetune(other).summary["pseudo_labels"]["status"] == "computed"


def test_a_whole_pool_of_molecules_is_replayed_without_stress(tmp_path):
    pool = write_frames(tmp_path / "mols.xyz", "mol-base", "test", 10, labels=False)
    replay = {"train": [str(pool)], "labels": "pseudo"}  # no count: the whole pool
    setup = prepare_finetune(load_config(_config(tmp_path, replay=replay)))
    replay = setup.splits["bulk"].train
    assert len(replay) == 10
    assert all(c.stress is None and c.stress_weight == 0.0 for c in replay)
    assert all(c.forces is not None and c.forces_weight == 1.0 for c in replay)


def test_pseudo_labels_need_replay_mode(tmp_path, capsys):
    code = main(["finetune", str(_config(tmp_path, **{"finetune.mode": "no-replay"}))])
    err = capsys.readouterr().err
    assert code == 2 and "'pseudo' labels the replay buffer" in err


def _drift(model, configs, before):
    e, f, _ = _predict(model, "bulk", configs)
    return (e - before[0]).abs().mean().item(), (f - before[1]).abs().mean().item()


@pytest.mark.slow
def test_pseudo_labelled_replay_limits_the_base_heads_drift(tmp_path):
    """The base head's drift on the replay structures (MAE of energy per atom and forces
    against its own predictions before fine-tuning) with pseudo-labelled replay is at most
    20 % of the drift without replay, for the same seed, steps and learning rate."""
    replay = {**_replay_files(tmp_path, labels=True, pool=200), "count": 12, "batch_share": 0.5}
    same = {"training.max_steps": 60, "training.epochs": 100, "training.batch_size": 8}
    runs = {}
    for mode in ("replay", "no-replay"):
        labels = "pseudo" if mode == "replay" else "reference"
        config = load_config(
            _config(
                tmp_path,
                mode,
                replay={**replay, "labels": labels},
                **{"finetune.mode": mode, "heads.mol.max_train": 32, **same},
            )
        )
        setup = prepare_finetune(config)
        trainer = Trainer(config, setup)
        trainer.fit()
        runs[mode] = (setup, trainer)
    structures = runs["replay"][0].splits["bulk"].train
    before = _predict(tiny_model(), "bulk", structures)
    with_replay = _drift(runs["replay"][1].eval_model, structures, before)
    without = _drift(runs["no-replay"][1].eval_model, structures, before)
    print(f"drift energy {with_replay[0]:.3g} / {without[0]:.3g} eV/atom, ")
    print(f"forces {with_replay[1]:.3g} / {without[1]:.3g} eV/A")
    print(f"ratios {with_replay[0] / without[0]:.3f} {with_replay[1] / without[1]:.3f}")
    assert without[0] > 1e-2 and without[1] > 1e-3  # fine-tuning moves the base head
    assert with_replay[0] <= 0.2 * without[0]
    assert with_replay[1] <= 0.2 * without[1]


@pytest.mark.slow
def test_sigkill_then_resume_with_lr_factors_and_pseudo_labels(tmp_path, capsys, monkeypatch):
    changes = {
        "optimizer.lr_factors": {"embedding": 0.1, "interactions.1": 0.5, "readouts.mol": 2.0},
        "training.epochs": 12,  # 4 steps per epoch
        "training.max_steps": 40,
        "training.checkpoint_every": 3,
        "training.deterministic": True,
    }
    replay = _replay_files(tmp_path)
    assert main(["finetune", str(_config(tmp_path, "whole", replay, **changes))]) == 0
    config = _config(tmp_path, "killed", replay, **changes)
    killed_at = run_and_sigkill("finetune", config, tmp_path / "killed" / "metrics.jsonl", 20)
    assert 17 <= killed_at < 40
    labels_file = tmp_path / "killed" / PSEUDO_LABELS_NAME
    written = labels_file.read_bytes()

    def no_prediction(*args, **kwargs):
        raise AssertionError("the pseudo-labels were computed again on resume")

    monkeypatch.setattr(pseudo_module, "predict_labels", no_prediction)
    capsys.readouterr()
    assert main(["finetune", str(config), "--resume"]) == 0
    assert labels_file.read_bytes() == written
    assert_same_run(tmp_path / "whole", tmp_path / "killed", 40, parts=("model",))
    a = read_pseudo_labels(tmp_path / "whole" / PSEUDO_LABELS_NAME)[0]
    b = read_pseudo_labels(labels_file)[0]
    assert a.keys() == b.keys() and all(a[k][0] == b[k][0] for k in a)
