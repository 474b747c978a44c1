"""Bad configurations stop ``mmh-train`` at start-up with a one-line message."""

from __future__ import annotations

from mmh_train.cli import main
from train_kit import pretrain_config, write_config, write_frames


def _run(tmp_path, capsys, cfg, command="pretrain"):
    code = main([command, str(write_config(tmp_path / "c.yaml", cfg))])
    err = capsys.readouterr().err.strip()
    return code, err


def _check(code, err, tmp_path, *fragments):
    assert code == 2
    assert err.startswith("mmh-train: error:")
    assert "\n" not in err
    for fragment in fragments:
        assert fragment in err
    # nothing was trained: no checkpoint, no log
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_unknown_key(tmp_path, capsys):
    cfg = pretrain_config(tmp_path)
    cfg["training"]["epoch"] = 3
    _check(*_run(tmp_path, capsys, cfg), tmp_path, "unknown key 'training.epoch'")


def test_missing_file(tmp_path, capsys):
    cfg = pretrain_config(tmp_path, heads={"pbe": {"train": [str(tmp_path / "missing.xyz")]}})
    _check(*_run(tmp_path, capsys, cfg), tmp_path, "heads.pbe.train", "missing.xyz")


def test_unknown_head_in_data(tmp_path, capsys):
    data = write_frames(tmp_path / "d.xyz", "bulk", "train", 4, head="r2scan")
    cfg = pretrain_config(tmp_path, heads={"pbe": {"train": [str(data)]}})
    _check(*_run(tmp_path, capsys, cfg), tmp_path, "'r2scan'", "d.xyz", "frame 0")


def test_head_without_data(tmp_path, capsys):
    valid = write_frames(tmp_path / "v.xyz", "bulk", "valid", 4)
    cfg = pretrain_config(tmp_path, heads={"pbe": {"valid": [str(valid)]}})
    _check(*_run(tmp_path, capsys, cfg), tmp_path, "heads.pbe", "no training data")


def test_unknown_bundled_dataset(tmp_path, capsys):
    cfg = pretrain_config(tmp_path, heads={"pbe": {"dataset": "omat"}})
    _check(*_run(tmp_path, capsys, cfg), tmp_path, "unknown bundled dataset 'omat'")


def test_missing_label_key(tmp_path, capsys):
    data = write_frames(tmp_path / "d.xyz", "bulk", "train", 4)
    cfg = pretrain_config(
        tmp_path, heads={"pbe": {"train": [str(data)], "keys": {"energy": "DFT_energy"}}}
    )
    # frames without the energy key keep their forces; with no energy at all the E0s
    # cannot be averaged, and isolated-atom energies are not there either
    _check(*_run(tmp_path, capsys, cfg), tmp_path, "heads.pbe.e0s")


def test_finetune_unknown_base_head(tmp_path, capsys):
    from heads_for_tests import tiny_model
    from mmh_heads import save_model

    model_file = tmp_path / "m.safetensors"
    save_model(tiny_model(), model_file)
    cfg = pretrain_config(
        tmp_path,
        heads={"mol": {"dataset": "mol", "max_train": 4}},
        finetune={"model": str(model_file), "base_head": "pbe", "mode": "no-replay"},
    )
    _check(*_run(tmp_path, capsys, cfg, "finetune"), tmp_path, "unknown head 'pbe'", "bulk")


def test_finetune_element_outside_the_table(tmp_path, capsys):
    from heads_for_tests import tiny_model
    from mmh_heads import save_model

    model_file = tmp_path / "m.safetensors"
    save_model(tiny_model(elements=(1, 6)), model_file)
    cfg = pretrain_config(
        tmp_path,
        heads={"mol": {"dataset": "mol", "max_train": 50}},
        finetune={"model": str(model_file), "mode": "no-replay"},
    )
    _check(*_run(tmp_path, capsys, cfg, "finetune"), tmp_path, "not in the pre-trained model")


def test_resume_without_checkpoint(tmp_path, capsys):
    cfg = pretrain_config(tmp_path)
    code = main(["pretrain", str(write_config(tmp_path / "c.yaml", cfg)), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "no checkpoint" in err


def _small_table_model(tmp_path, extra_heads=()):
    from heads_for_tests import tiny_model
    from mmh_heads import save_model

    model_file = tmp_path / "m.safetensors"
    save_model(tiny_model(elements=(1, 6, 7, 8), extra_heads=extra_heads), model_file)
    return model_file


def test_finetune_replay_element_outside_the_table(tmp_path, capsys):
    import ase.io
    from mmh_data import datasets

    table = {1, 6, 7, 8}
    pool = write_frames(tmp_path / "pool.xyz", "bulk", "train", 6)
    found = {int(z) for a in datasets.load_atoms("bulk", "train")[:6] for z in a.numbers}
    organic = [a for a in datasets.load_atoms("mol", "train") if set(a.numbers) <= table][:12]
    ase.io.write(tmp_path / "mols.xyz", organic, format="extxyz")
    cfg = pretrain_config(
        tmp_path,
        heads={"mol": {"train": [str(tmp_path / "mols.xyz")]}},
        finetune={
            "model": str(_small_table_model(tmp_path)),
            "replay": {"train": [str(pool)], "count": 6},
        },
    )
    _check(
        *_run(tmp_path, capsys, cfg, "finetune"),
        tmp_path,
        "finetune.replay: elements",
        f"{sorted(found - table)} in '{pool}'",
        "[1, 6, 7, 8]",
    )


def test_finetune_kept_head_data_element_outside_the_table(tmp_path, capsys):
    surf = write_frames(tmp_path / "surf.xyz", "surf", "train", 4)
    cfg = pretrain_config(
        tmp_path,
        heads={"surf": {"train": [str(surf)]}},
        finetune={
            "model": str(_small_table_model(tmp_path, extra_heads=("surf",))),
            "base_head": "bulk",
            "keep_heads": ["surf"],
            "mode": "no-replay",
        },
    )
    _check(
        *_run(tmp_path, capsys, cfg, "finetune"),
        tmp_path,
        "heads.surf: elements",
        "surf.xyz",
        "not in the pre-trained model's element table [1, 6, 7, 8]",
    )
