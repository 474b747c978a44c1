"""Per-head metadata: in the config, the model, the model file and the head operations;
files written before it existed still load."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from mmh_heads import (
    HeadMeta,
    ModelConfig,
    MultiHeadMACE,
    load_model,
    read_model_header,
    save_model,
)
from mmh_heads.cli import describe, main
from mmh_heads.testing import tiny_model

PBE = HeadMeta(level_of_theory="PBE", dispersion=False, datasets=("omat", "mptrj"))
CC = {"level_of_theory": "CCSD(T)", "dispersion": True, "notes": "counterpoise corrected"}


def _with_meta() -> MultiHeadMACE:
    model = tiny_model()
    model.set_head_meta(model.heads[0], PBE)
    model.set_head_meta(model.heads[1], CC)
    return model


def test_meta_validation():
    assert HeadMeta.from_dict(PBE.to_dict()) == PBE
    with pytest.raises(ValueError, match=r"unknown head metadata key\(s\) \['functional'\]"):
        HeadMeta.from_dict({"functional": "PBE"})
    with pytest.raises(ValueError, match="dispersion must be"):
        HeadMeta(dispersion="yes")
    with pytest.raises(ValueError, match="datasets must be a list"):
        HeadMeta(datasets="omat")
    config = tiny_model().config
    with pytest.raises(ValueError, match="unknown head 'nope'"):
        ModelConfig(config.backbone, heads=config.heads, head_meta={"nope": PBE})


def test_round_trip_through_the_model_file(tmp_path):
    model = _with_meta()
    first, second = model.heads[:2]
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert loaded.head_meta == {first: PBE, second: HeadMeta.from_dict(CC)}
    stored = read_model_header(path)["config"]["head_meta"]
    assert stored[first] == {
        "level_of_theory": "PBE",
        "dispersion": False,
        "datasets": ["omat", "mptrj"],
    }
    info = {h["name"]: h["meta"] for h in describe(str(path))["heads"]}
    assert info[second] == CC


def test_head_operations_keep_the_right_metadata():
    model = _with_meta()
    first, second = model.heads[:2]
    model.add_head("copy", init_from=first)
    assert "copy" not in model.head_meta  # another level of theory: nothing is copied
    model.add_head("d3", init_from=first, meta={"level_of_theory": "PBE+D3", "dispersion": True})
    assert model.head_meta["d3"].dispersion is True
    single = model.extract_head(second)
    assert single.head_meta == {second: HeadMeta.from_dict(CC)}
    model.remove_head(second)
    assert second not in model.head_meta and second not in model.config.head_meta
    model.set_head_meta(first, None)
    assert first not in model.head_meta


def _drop_meta(path):
    """Rewrite the header as files were written before heads had metadata."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["mmh"])
    meta["config"].pop("head_meta", None)
    header["__metadata__"]["mmh"] = json.dumps(meta)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])


def test_files_without_metadata_still_load(tmp_path, capsys):
    model = tiny_model()
    path = save_model(model, tmp_path / "old.safetensors")
    assert "head_meta" not in read_model_header(path)["config"]  # no key without metadata
    tagged = save_model(_with_meta(), tmp_path / "new.safetensors")
    _drop_meta(tagged)
    for p in (path, tagged):
        loaded = load_model(p)
        assert loaded.head_meta == {} and loaded.heads == model.heads
        assert all(h["meta"] == {} for h in describe(str(p))["heads"])
    assert main(["list-heads", str(tagged)]) == 0
    assert "level of theory" not in capsys.readouterr().out


def test_list_heads_cli_prints_the_metadata(tmp_path, capsys):
    path = save_model(_with_meta(), tmp_path / "m.safetensors")
    assert main(["list-heads", str(path)]) == 0
    out = capsys.readouterr().out
    assert "level of theory PBE; dispersion not included; datasets omat, mptrj" in out
    assert "level of theory CCSD(T); dispersion included; counterpoise corrected" in out


def test_meta_survives_dtype_conversion():
    model = _with_meta().to(torch.float32)
    assert model.head_meta[model.heads[0]] == PBE


def test_set_meta_cli_tags_a_head_and_keeps_the_weights(tmp_path, capsys):
    model = tiny_model()
    head = model.heads[0]
    path = save_model(model, tmp_path / "m.safetensors")
    out = tmp_path / "tagged.safetensors"
    argv = ["set-meta", str(path), head, "-o", str(out), "--level-of-theory", "PBE"]
    assert main([*argv, "--dispersion", "false", "--datasets", "omat, mptrj"]) == 0
    assert "level of theory PBE; dispersion not included; datasets omat, mptrj" in (
        capsys.readouterr().out
    )
    tagged = load_model(out)
    assert tagged.head_meta == {head: PBE}
    for key, value in model.state_dict().items():
        assert torch.equal(value, tagged.state_dict()[key]), key
    # an update keeps the other fields; an existing output needs --force
    assert main(["set-meta", str(out), head, "-o", str(out), "--notes", "x"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["set-meta", str(out), head, "-o", str(out), "--notes", "x", "--force"]) == 0
    assert load_model(out).head_meta[head].notes == "x"
    assert load_model(out).head_meta[head].level_of_theory == "PBE"
    assert main(["set-meta", str(out), "nope", "-o", str(tmp_path / "n.safetensors")]) == 2
    assert "has no head 'nope'" in capsys.readouterr().err
