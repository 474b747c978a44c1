"""Reading a mace-torch file never runs code from it; bad files get clear errors."""

import io
import pickle
import zipfile

import mace_fixtures as fx
import pytest
from mmh_heads import MaceFileError, import_mace, load_mace_model
from mmh_heads._torch_archive import TorchArchive, UnsafeArchiveError


def _archive(path, payload: bytes, root="model"):
    """A torch-style zip archive whose pickle is ``payload``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{root}/data.pkl", payload)
        z.writestr(f"{root}/byteorder", "little")
        z.writestr(f"{root}/version", "3\n")
    return path


class _Call:
    """Pickles as a call of ``func(*args)`` (what a malicious file does)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize(
    "call",
    [
        ("os", "system"),
        ("posix", "system"),
        ("subprocess", "check_call"),
        ("builtins", "exec"),
        ("builtins", "eval"),
        ("torch", "load"),
        ("collections", "defaultdict"),
    ],
)
def test_a_call_outside_the_allow_list_is_refused_and_never_made(tmp_path, call):
    marker = tmp_path / "pwned"
    module, name = call
    # hand-written protocol-2 pickle: GLOBAL module.name, a tuple of one string, REDUCE
    payload = (
        b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n"
        b"X" + len(f"touch {marker}").to_bytes(4, "little") + f"touch {marker}".encode()
        + b"\x85R."
    )  # fmt: skip
    path = _archive(tmp_path / "evil.model", payload)
    with pytest.raises(UnsafeArchiveError, match=f"calls {module}.{name}"):
        TorchArchive(path).load()
    with pytest.raises(MaceFileError, match=f"calls {module}.{name}.*nothing was called"):
        load_mace_model(path)
    assert not marker.exists()


def test_a_pickled_os_system_call_made_with_pickle_itself_is_refused(tmp_path):
    import os

    marker = tmp_path / "pwned"
    payload = pickle.dumps({"model": _Call(os.system, f"touch {marker}")}, protocol=2)
    path = _archive(tmp_path / "evil.model", payload)
    with pytest.raises(MaceFileError, match=r"nothing was called"):
        load_mace_model(path)
    assert not marker.exists()


def test_python_source_in_the_file_is_never_executed(tmp_path):
    """mace's files carry torch.fx graphs as Python source; the reader keeps them as data."""
    archive = TorchArchive(fx.model_file("linear_mp0a", tmp_path))
    root = archive.load()
    graphs = [
        m
        for m in _walk(root)
        if getattr(m, "cls", "") == "torch.fx.graph_module.reduce_graph_module"
    ]
    assert graphs, "the fixture is expected to hold torch.fx graphs"
    assert all(not callable(getattr(g, "forward", None)) for g in graphs)


def _walk(obj, seen=None):
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    yield obj
    children = []
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, list | tuple):
        children = list(obj)
    elif hasattr(obj, "state"):
        children = [obj.state, *obj.args]
    for child in children:
        yield from _walk(child, seen)


def test_not_a_torch_archive(tmp_path):
    path = tmp_path / "random.model"
    path.write_bytes(b"not a zip file at all" * 10)
    with pytest.raises(MaceFileError, match=r"random.model: not a torch archive"):
        load_mace_model(path)


def test_a_truncated_archive(tmp_path):
    data = fx.model_file("linear_mp0a", tmp_path).read_bytes()
    path = tmp_path / "cut.model"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MaceFileError, match=r"cut.model.*(truncated|corrupted)"):
        load_mace_model(path)


def test_a_torchscript_archive_is_named(tmp_path):
    path = tmp_path / "compiled.model"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("compiled/data.pkl", pickle.dumps({}))
        z.writestr("compiled/code/__torch__/model.py", "")
    with pytest.raises(MaceFileError, match=r"TorchScript archive"):
        load_mace_model(path)


def _renamed(tmp_path, name, old: bytes, new: bytes):
    """A copy of a fixture whose pickle names ``new`` where it named ``old``."""
    src = zipfile.ZipFile(fx.model_file(name, tmp_path))
    path = tmp_path / f"{name}-edited.model"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("/data.pkl"):
                assert old in data
                data = data.replace(old, new)
            out.writestr(info.filename, data)
    return path


def test_an_unknown_block_names_the_class_version_and_supported_blocks(tmp_path):
    path = _renamed(
        tmp_path,
        "linear_mp0a",
        b"\nRealAgnosticResidualInteractionBlock\n",
        b"\nRealAgnosticAttResidualInteractionBlock\n",
    )
    with pytest.raises(MaceFileError) as err:
        load_mace_model(path)
    message = str(err.value)
    assert "interactions.0" in message
    assert "RealAgnosticAttResidualInteractionBlock" in message
    assert "mace-torch 0.3.15 or later" in message
    assert "RealAgnosticDensityInteractionBlock" in message  # the supported list


def test_an_unknown_class_is_named(tmp_path):
    path = _renamed(tmp_path, "linear_mp0a", b"\nBesselBasis\n", b"\nChebychevBasis\n")
    with pytest.raises(MaceFileError, match=r"radial_embedding.bessel_fn is .*ChebychevBasis"):
        load_mace_model(path)


def test_an_unknown_attribute_is_named(tmp_path):
    # 'use_so3' is a known flag; any other model attribute is refused, not ignored
    path = _renamed(tmp_path, "linear_mp0a", b"use_so3", b"use_xyz")
    with pytest.raises(MaceFileError, match=r"attribute.*use_xyz"):
        load_mace_model(path)


def test_a_failed_import_writes_nothing(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"PK\x03\x04 broken")
    out = tmp_path / "out.safetensors"
    with pytest.raises(MaceFileError):
        import_mace(bad, out)
    assert list(tmp_path.iterdir()) == [bad]


def test_a_large_storage_claim_is_checked_before_reading(tmp_path):
    """A pickle that claims more elements than its storage holds is refused."""
    from collections import OrderedDict

    import torch

    class _Storage:
        pass

    class _Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", torch.FloatStorage, "0", "cpu", 2**28)
            return None

    n = 2**28
    tensor = _Call(torch._utils._rebuild_tensor_v2, _Storage(), 0, (n,), (1,), False, OrderedDict())
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump({"weight": tensor})
    path = _archive(tmp_path / "huge.model", buf.getvalue())
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("model/data/0", b"\x00" * 16)
    with pytest.raises(MaceFileError, match=r"shorter than the pickle says"):
        load_mace_model(path)
