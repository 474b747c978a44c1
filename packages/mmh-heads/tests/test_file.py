import json
import struct

import pytest
import torch
from mmh_heads import FORMAT_VERSION, ModelFileError, load_model, read_model_header, save_model
from mmh_heads.testing import batch_of, molecule, tiny_model, triclinic


def test_round_trip_bit_for_bit(tmp_path, dtype):
    model = tiny_model(dtype=dtype)
    model.add_head("third", init_from="new")
    path = save_model(model, tmp_path / "model.safetensors")
    loaded = load_model(path)
    assert loaded.heads == model.heads and loaded.dtype == dtype
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    batch = batch_of([triclinic(head="third"), molecule(head="base")], dtype=dtype)
    a, b = model(batch), loaded(batch)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    header = read_model_header(path)
    assert header["format_version"] == FORMAT_VERSION
    assert header["elements"] == [1, 6, 8]
    assert "torch" in header["versions"]


def _rewrite_header(path, edit):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["mmh"])
    edit(meta)
    header["__metadata__"]["mmh"] = json.dumps(meta)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])


def test_future_version_fails_clearly(tmp_path):
    path = save_model(tiny_model(), tmp_path / "m.safetensors")
    _rewrite_header(path, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="upgrade mmh-heads"):
        load_model(path)


def test_corrupted_weights_fail_clearly(tmp_path):
    path = save_model(tiny_model(), tmp_path / "m.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="corrupted"):
        load_model(path)


def test_truncated_or_foreign_file_fails_clearly(tmp_path):
    path = save_model(tiny_model(), tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ModelFileError):
        load_model(path)
    other = tmp_path / "pickle.pt"
    torch.save({"a": torch.ones(2)}, other)
    with pytest.raises(ModelFileError):
        load_model(other)
