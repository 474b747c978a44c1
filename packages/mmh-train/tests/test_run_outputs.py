"""What a run leaves for its user: ``train.log`` (readable on its own), per-head metadata
from the config in the model file, and ``mmh-train info``."""

from __future__ import annotations

import json
import re

import pytest
from heads_for_tests import tiny_model
from mmh_ase import list_heads
from mmh_heads import HeadMeta, load_model, save_model
from mmh_train.cli import main
from train_kit import finetune_config, pretrain_config, write_config

BULK_META = {
    "level_of_theory": "GFN1-xTB",
    "dispersion": True,
    "datasets": ["bulk"],
    "notes": "bundled crystals",
}
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARNING|ERROR) +\S")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pre")
    cfg = pretrain_config(
        tmp, heads={"bulk": {"dataset": "bulk", "max_train": 12, "meta": BULK_META}}
    )
    cfg["training"]["epochs"] = 2
    assert main(["pretrain", str(write_config(tmp / "pre.yaml", cfg))]) == 0
    return tmp / "run"


def test_train_log_says_what_the_run_decided(pretrained):
    text = (pretrained / "train.log").read_text()
    lines = text.splitlines()
    assert all(LINE.match(line) for line in lines), [l for l in lines if not LINE.match(l)]
    assert "mmh-train pretrain started" in lines[0]
    assert re.search(r"setup: e0s_method = \{\"bulk\": \"isolated\"\}", text)
    assert re.search(
        r"head bulk: scale [\d.e+-]+, shift [\d.e+-]+ eV/atom; E0s \[eV\] [A-Z][a-z]? -?\d", text
    )
    assert "avg_num_neighbors" in text and "training: " in text
    assert "epoch 0 done: step" in text and "epoch 1 done: step" in text
    assert re.search(r"epoch 1 valid: loss [\d.e+-]+.*bulk: E MAE [\d.]+ meV/atom", text)
    assert "stopped: last step" in text and "test errors" in text
    assert '"level_of_theory": "GFN1-xTB"' in text


def test_meta_goes_from_the_config_to_the_model_file_and_list_heads(pretrained):
    path = pretrained / "model.safetensors"
    assert list_heads(path, meta=True) == {"bulk": BULK_META}
    assert load_model(path).head_meta["bulk"] == HeadMeta.from_dict(BULK_META)
    assert load_model(pretrained / "model-last.safetensors").head_meta["bulk"].dispersion


def test_info_prints_heads_elements_hyperparameters_and_provenance(pretrained, capsys):
    path = pretrained / "model.safetensors"
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 head(s)" in out and "elements: " in out
    assert "bulk: scale" in out
    assert "level of theory GFN1-xTB; dispersion included; datasets bulk; bundled crystals" in out
    assert "hyper-parameters:" in out and "r_max: 4.0" in out and "channels: 4" in out
    assert "trained with mmh" in out and "torch" in out and "weights sha256" in out
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["heads"][0]["meta"] == BULK_META
    assert info["hyperparameters"]["backbone"]["channels"] == 4


def test_info_of_a_bad_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nope")
    assert main(["info", str(bad)]) == 2
    assert capsys.readouterr().err.startswith("mmh-train: error: ")


def test_finetune_log_has_the_replay_selection_and_the_new_head_meta(tmp_path):
    base = tiny_model()
    base.set_head_meta("bulk", {"level_of_theory": "GFN1-xTB"})
    model_file = save_model(base, tmp_path / "base.safetensors")
    mol_meta = {"level_of_theory": "GFN2-xTB", "dispersion": True}
    cfg = finetune_config(
        tmp_path,
        model_file,
        heads={"mol": {"dataset": "mol", "max_train": 8, "meta": mol_meta}},
        **{
            "finetune.replay": {"dataset": "bulk", "count": 6, "batch_share": 0.25},
            "training.epochs": 1,
            "training.max_steps": 2,
        },
    )
    assert main(["finetune", str(write_config(tmp_path / "ft.yaml", cfg))]) == 0
    run = tmp_path / "run"
    text = (run / "train.log").read_text()
    assert "mmh-train finetune started" in text
    assert re.search(
        r"replay: 6 of \d+ pool structures selected \(random, element filter none\)", text
    )
    assert "no validation" in text
    assert re.search(r"head mol: scale .* E0s \[eV\]", text)
    meta = list_heads(run / "model.safetensors", meta=True)
    assert meta == {"bulk": {"level_of_theory": "GFN1-xTB"}, "mol": mol_meta}


def test_a_failed_run_still_leaves_a_readable_log(tmp_path, capsys):
    cfg = pretrain_config(tmp_path, heads={"bulk": {"train": [str(tmp_path / "missing.xyz")]}})
    assert main(["pretrain", str(write_config(tmp_path / "bad.yaml", cfg))]) == 2
    text = (tmp_path / "run" / "train.log").read_text()
    assert "mmh-train pretrain started" in text
    assert re.search(r"ERROR +run failed: \w+: .*missing.xyz", text)


def test_resume_appends_to_the_log(tmp_path):
    cfg = pretrain_config(tmp_path, heads={"bulk": {"dataset": "bulk", "max_train": 8}})
    cfg["training"].update(epochs=1, max_steps=1)
    path = write_config(tmp_path / "pre.yaml", cfg)
    assert main(["pretrain", str(path)]) == 0
    assert main(["pretrain", str(path), "--resume", "--set", "training.max_steps=2"]) == 0
    text = (tmp_path / "run" / "train.log").read_text()
    assert "pretrain started" in text and "pretrain resumed" in text
    assert text.index("started") < text.index("resumed")
