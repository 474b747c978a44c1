"""Fine-tuning a model imported from mace-torch: a two-head MH-1-style mace file (heads
``omat_pbe`` and ``spice_wb97m``) fine-tuned with replay on bundled data restricted to its
element table (H, C, N, O, Si), once with reference labels and once with pseudo labels."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from mmh_data import GraphBuilder, collate, configurations_from_atoms, datasets
from mmh_heads import import_mace, load_model
from mmh_train import Trainer, load_config, prepare_finetune
from mmh_train.cli import main
from train_kit import assert_same_run, finetune_config, run_and_sigkill, write_config

FIXTURE = (
    Path(__file__).resolve().parents[2]
    / "mmh-heads"
    / "tests"
    / "data"
    / "mace"
    / "nonlinear_mh1_L1.model.gz"
)
ELEMENTS = {1, 6, 7, 8, 14}
BASE, KEPT = "omat_pbe", "spice_wb97m"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="the mace fixtures are not here")


def _frames(dataset, split, count):
    frames = [a for a in datasets.load_atoms(dataset, split) if set(a.numbers) <= ELEMENTS]
    return frames[:count]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imported")
    raw = folder / "mh.model"
    with gzip.open(FIXTURE, "rb") as src, open(raw, "wb") as dst:
        shutil.copyfileobj(src, dst)
    out = import_mace(raw, folder / "mh.safetensors")
    files = {"model": out}
    for name, (dataset, split, count) in {
        "mol": ("mol", "train", 16),
        "mol_valid": ("mol", "valid", 4),
        "replay": ("bulk", "train", 24),
        "replay_valid": ("bulk", "train", 28),
        "kept": ("mol", "test", 6),
    }.items():
        frames = _frames(dataset, split, count)
        if name == "replay_valid":
            frames = frames[24:]
        files[name] = folder / f"{name}.xyz"
        ase.io.write(files[name], frames, format="extxyz")
    return files


def _config(tmp_path, files, name, labels="reference", mode="replay", **changes):
    replay = {
        "train": [str(files["replay"])],
        "valid": [str(files["replay_valid"])],
        "labels": labels,
        "batch_share": 0.5,
    }
    cfg = finetune_config(
        tmp_path,
        files["model"],
        {"mol": {"train": [str(files["mol"])], "valid": [str(files["mol_valid"])]}},
        output=str(tmp_path / name),
        **{
            "finetune.base_head": BASE,
            "finetune.mode": mode,
            "finetune.keep_heads": [KEPT],
            "optimizer.lr": 0.005,
            "training.batch_size": 4,
            "training.epochs": 100,
            "training.max_steps": 12,
            **changes,
        },
    )
    if mode != "replay":
        cfg["finetune"].pop("replay", None)
    else:
        cfg["finetune"]["replay"] = replay
    return write_config(tmp_path / f"{name}.yaml", cfg)


def _predict(model, head, atoms):
    configs = configurations_from_atoms(atoms, head=head, heads=[head])
    builder = GraphBuilder(model.backbone.config.r_max, heads=model.heads, dtype=model.dtype)
    batch = collate([builder(c) for c in configs])
    out = model(batch, compute_forces=True, compute_stress=False)
    n = torch.tensor([len(a) for a in atoms], dtype=model.dtype)
    return out["energy"].detach() / n, out["forces"].detach()


def _mae(model, head, atoms, energies, forces):
    e, f = _predict(model, head, atoms)
    return float((e - energies).abs().mean()), float((f - forces).abs().mean())


def _reference(atoms):
    configs = configurations_from_atoms(atoms, head=BASE, heads=[BASE])
    e = torch.tensor([c.energy / c.num_atoms for c in configs], dtype=torch.float64)
    f = torch.tensor(np.concatenate([c.forces for c in configs]), dtype=torch.float64)
    return e, f


def test_reference_replay_keeps_the_base_head_and_frozen_kept_head(tmp_path, imported):
    """Frozen backbone and kept head: the kept head predicts bit for bit as before; the base
    head's error on its replay set does not rise by more than 10 %; the file keeps the source."""
    source = load_model(imported["model"])
    config = load_config(
        _config(tmp_path, imported, "reference", **{"finetune.freeze": ["backbone"]})
    )
    setup = prepare_finetune(config)
    assert setup.model.heads == [BASE, KEPT, "mol"]
    Trainer(config, setup).fit()
    tuned = load_model(tmp_path / "reference" / "model.safetensors")
    kept = list(ase.io.read(imported["kept"], ":"))
    for a, b in zip(_predict(source, KEPT, kept), _predict(tuned, KEPT, kept), strict=True):
        assert torch.equal(a, b)
    replay = list(ase.io.read(imported["replay"], ":"))
    labels = _reference(replay)
    before = _mae(source, BASE, replay, *labels)
    after = _mae(tuned, BASE, replay, *labels)
    assert after[0] <= 1.1 * before[0] and after[1] <= 1.1 * before[1]
    assert tuned.provenance["file"] == "mh.model" and tuned.provenance["fine_tuned"]


@pytest.mark.slow
def test_pseudo_labelled_replay_limits_the_imported_base_heads_drift(tmp_path, imported):
    """With pseudo labels the base head's drift on the replay structures is at most 20 % of
    the drift of fine-tuning without replay (same seed, steps and learning rate)."""
    source = load_model(imported["model"])
    replay = list(ase.io.read(imported["replay"], ":"))
    start = _predict(source, BASE, replay)
    drift = {}
    for name, mode, labels in (("pseudo", "replay", "pseudo"), ("none", "no-replay", "reference")):
        config = load_config(
            _config(
                tmp_path, imported, name, labels=labels, mode=mode, **{"training.max_steps": 30}
            )
        )
        trainer = Trainer(config, prepare_finetune(config))
        trainer.fit()
        drift[name] = _mae(trainer.eval_model, BASE, replay, *start)
    print("drift (energy eV/atom, forces eV/A):", drift)
    assert drift["none"][0] > 1e-3 and drift["none"][1] > 1e-3
    assert drift["pseudo"][0] <= 0.2 * drift["none"][0]
    assert drift["pseudo"][1] <= 0.2 * drift["none"][1]


@pytest.mark.slow
def test_sigkill_and_resume_of_an_imported_model_is_exact(tmp_path, imported):
    changes = {
        "training.max_steps": 24,
        "training.checkpoint_every": 3,
        "training.deterministic": True,
    }
    whole = _config(tmp_path, imported, "whole", labels="pseudo", **changes)
    assert main(["finetune", str(whole)]) == 0
    killed = _config(tmp_path, imported, "killed", labels="pseudo", **changes)
    run_and_sigkill("finetune", killed, tmp_path / "killed" / "metrics.jsonl", 10)
    assert main(["finetune", str(killed), "--resume"]) == 0
    assert_same_run(tmp_path / "whole", tmp_path / "killed", 24, parts=("model",))
