"""A reader of ``torch.save`` archives that never runs code from the file.

A ``torch.save`` file is a zip archive: ``<root>/data.pkl`` (a pickle of the object tree) and
``<root>/data/<key>`` (one raw little-endian storage per tensor). Unpickling it normally imports
and calls whatever the pickle names, which for a mace-torch ``.model`` includes Python source
that torch ``exec``s and TorchScript archives that e3nn loads.

This reader unpickles with a restricted `pickle.Unpickler`:

* a short allow-list of globals gets a real, harmless implementation: ``OrderedDict``, ``set``,
  ``frozenset``, latin-1 ``_codecs.encode``, and mmh's own versions of torch's tensor and
  parameter rebuild functions, which return lazy views of the storages;
* every other global becomes an inert stand-in class, generated per name. Building an object of
  it (pickle's ``NEWOBJ`` and ``BUILD``) only records its arguments and state;
* *calling* a global (pickle's ``REDUCE``) that is neither allow-listed nor an inert record
  listed in `INERT_CALLS` raises `UnsafeArchiveError` before anything is called.

No module named in the file is imported, and nothing from the file is executed.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: the most a pickle may hold, in bytes (the object tree only; tensors are separate)
MAX_PICKLE_BYTES = 256 * 2**20

#: torch storage class names and the dtypes of their elements
STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
    "ComplexDoubleStorage": np.dtype("<c16"),
    "ComplexFloatStorage": np.dtype("<c8"),
}

#: globals whose call is recorded, not made: their results are data that an importer ignores
INERT_CALLS = frozenset(
    {
        "torch.fx.graph_module.reduce_graph_module",
        "torch.fx.graph_module.reduce_package_graph_module",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.dtype",
        "torch.Size",
        "torch.device",
        "copyreg._reconstructor",
        "builtins.slice",
        "builtins.complex",
    }
)

#: packages whose classes may be called by a pickle to rebuild plain data (enumerations,
#: named tuples); the call is recorded, never made
INERT_CLASS_PACKAGES = ("mace.", "e3nn.", "cuequivariance.", "cuequivariance_torch.")


class ArchiveError(ValueError):
    """The file is not a readable ``torch.save`` archive (names the file and the reason)."""


class UnsafeArchiveError(ArchiveError):
    """The pickle asks to call something outside the allow-list; nothing was called."""


# --------------------------------------------------------------------------- records


class Record:
    """An inert object rebuilt from the pickle: its class name, arguments, state and items.

    Attributes:
        cls: the dotted class name the file gave (``"mace.modules.blocks.LinearReadoutBlock"``).
        args: the constructor arguments (``NEWOBJ``/``REDUCE``).
        state: the ``BUILD`` state (for ``torch.nn.Module``, its ``__dict__``).
        items: appended items (``APPEND``/``APPENDS`` on a stand-in list subclass).
        mapping: set items (``SETITEM``/``SETITEMS`` on a stand-in dict subclass).
    """

    cls: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __new__(cls, *args: Any, **kwargs: Any) -> Record:
        obj = object.__new__(cls)
        obj.args = args
        obj.kwargs = kwargs
        obj.state = None
        obj.items = []
        obj.mapping = {}
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Any) -> None:
        self.items.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.mapping[key] = value

    def __repr__(self) -> str:
        return f"<{self.cls}>"

    @property
    def attrs(self) -> dict:
        """The state as a dict (empty when the state is not a dict)."""
        state = self.state
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict):
            state = state[0]
        return state if isinstance(state, dict) else {}


class _RecordMeta(type):
    """Metaclass of the stand-ins: calling a stand-in class is refused unless allowed."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if not cls._callable:
            raise UnsafeArchiveError(
                f"the pickle calls {cls.cls}, which is not on the reader's allow-list; "
                "nothing was called"
            )
        return cls.__new__(cls, *args, **kwargs)


def _stand_in(module: str, name: str) -> type:
    qualified = f"{module}.{name}"
    callable_ = qualified in INERT_CALLS or (
        qualified.startswith(INERT_CLASS_PACKAGES) and name[:1].isupper()
    )
    return _RecordMeta(
        name, (Record,), {"cls": qualified, "_callable": callable_, "__module__": "mmh.inert"}
    )


@dataclass
class LazyArray:
    """A view of one storage of the archive, read from the file when first asked for.

    Attributes:
        key: the storage's name in the archive.
        dtype: element dtype.
        offset: first element of the view in the storage.
        shape: shape of the view.
        stride: strides of the view, in elements.
        parameter: whether the pickle rebuilt it as a ``torch.nn.Parameter``.
    """

    key: str
    dtype: np.dtype
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    parameter: bool = False
    _archive: TorchArchive | None = field(default=None, repr=False)

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def numpy(self) -> np.ndarray:
        """The values, as a new contiguous array."""
        if self.numel == 0:
            return np.zeros(self.shape, dtype=self.dtype)
        storage = self._archive.storage(self.key, self.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride, strict=True))
        if self.offset < 0 or last >= storage.size or any(s < 0 for s in self.stride):
            raise ArchiveError(
                f"{self._archive.path}: tensor view of storage {self.key} runs past its end"
            )
        view = np.lib.stride_tricks.as_strided(
            storage[self.offset :],
            shape=self.shape,
            strides=tuple(s * self.dtype.itemsize for s in self.stride),
            writeable=False,
        )
        out = np.array(view, copy=True, order="C")
        self._archive.done_with(self.key)
        return out


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: TorchArchive) -> None:
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._classes: dict[tuple[str, str], type] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":
            module = "builtins"
        qualified = f"{module}.{name}"
        allowed = {
            "collections.OrderedDict": OrderedDict,
            "builtins.set": set,
            "builtins.frozenset": frozenset,
            "builtins.dict": dict,
            "builtins.list": list,
            "builtins.tuple": tuple,
            "_codecs.encode": _latin1_encode,
            "torch._utils._rebuild_tensor_v2": self._rebuild_tensor,
            "torch._utils._rebuild_parameter": _rebuild_parameter,
            "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
        }
        if qualified in allowed:
            return allowed[qualified]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageTag(name)
        key = (module, name)
        if key not in self._classes:
            self._classes[key] = _stand_in(module, name)
        return self._classes[key]

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise ArchiveError(f"{self._archive.path}: unknown persistent id {pid!r:.80}")
        _, tag, key, _location, numel = pid
        if not isinstance(tag, _StorageTag):
            raise ArchiveError(
                f"{self._archive.path}: storage of unsupported type {tag!r} "
                f"(supported: {', '.join(STORAGE_DTYPES)})"
            )
        return _Storage(str(key), STORAGE_DTYPES[tag.name], int(numel))

    def _rebuild_tensor(
        self, storage: Any, offset: int, size: Any, stride: Any, *_ignored: Any
    ) -> LazyArray:
        if not isinstance(storage, _Storage):
            raise ArchiveError(f"{self._archive.path}: a tensor without a storage")
        self._archive.check_storage(storage)
        self._archive.views[storage.key] = self._archive.views.get(storage.key, 0) + 1
        return LazyArray(
            storage.key,
            storage.dtype,
            int(offset),
            tuple(int(n) for n in size),
            tuple(int(s) for s in stride),
            _archive=self._archive,
        )


@dataclass(frozen=True)
class _StorageTag:
    name: str


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype
    numel: int


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    if encoding != "latin1" or not isinstance(text, str):
        raise UnsafeArchiveError(f"the pickle calls _codecs.encode with {encoding!r}")
    return text.encode("latin1")


def _rebuild_parameter(data: Any, *_ignored: Any) -> Any:
    if isinstance(data, LazyArray):
        data.parameter = True
    return data


# --------------------------------------------------------------------------- archive


class TorchArchive:
    """An opened ``torch.save`` zip archive (optionally gzip-compressed).

    Args:
        path: the file.

    Raises:
        ArchiveError: not a zip archive, truncated, a TorchScript archive, or not one pickle.

    Example:
        >>> archive = TorchArchive("model.model")  # doctest: +SKIP
        >>> root = archive.load()  # doctest: +SKIP

        ``root`` holds inert records and lazy arrays; nothing is executed.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ArchiveError(f"{self.path}: no such file")
        raw: Any = self.path
        with open(self.path, "rb") as f:
            magic = f.read(4)
        if magic[:2] == b"\x1f\x8b":
            try:
                raw = io.BytesIO(gzip.decompress(self.path.read_bytes()))
            except (OSError, EOFError) as err:
                raise ArchiveError(
                    f"{self.path}: a truncated or corrupted gzip file: {err}"
                ) from err
            magic = raw.getvalue()[:4]
        if magic[:2] != b"PK":
            raise ArchiveError(
                f"{self.path}: not a torch archive (a zip file written by torch.save); "
                "files in torch's legacy pre-1.6 format, TorchScript-only or other formats "
                "are not read"
            )
        try:
            self._zip = zipfile.ZipFile(raw)
            names = self._zip.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise ArchiveError(f"{self.path}: a truncated or corrupted archive: {err}") from err
        pickles = [n for n in names if n.count("/") == 1 and n.endswith("/data.pkl")]
        if any(n.split("/", 2)[1:2] == ["code"] for n in names if n.count("/") >= 2):
            raise ArchiveError(
                f"{self.path}: a TorchScript archive (for example a mace *_compiled.model or a "
                "LAMMPS model); import the plain .model file that mace wrote beside it"
            )
        if len(pickles) != 1:
            raise ArchiveError(
                f"{self.path}: expected one <root>/data.pkl in the archive, found {len(pickles)}"
            )
        self.root = pickles[0].split("/", 1)[0]
        self._sizes = {i.filename: i.file_size for i in self._zip.infolist()}
        self._storages: dict[str, np.ndarray] = {}
        #: views of each storage not yet read (a storage is dropped once all were read)
        self.views: dict[str, int] = {}
        order = self._read_text("byteorder", default="little")
        if order != "little":
            raise ArchiveError(f"{self.path}: byte order {order!r} is not supported")

    def _read_text(self, name: str, default: str) -> str:
        full = f"{self.root}/{name}"
        if full not in self._sizes:
            return default
        return self._read(full).decode().strip()

    def _read(self, name: str) -> bytes:
        try:
            return self._zip.read(name)
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as err:
            raise ArchiveError(
                f"{self.path}: cannot read {name} (truncated or corrupted): {err}"
            ) from err

    def load(self) -> Any:
        """Unpickle the object tree into inert records and lazy arrays."""
        name = f"{self.root}/data.pkl"
        if self._sizes[name] > MAX_PICKLE_BYTES:
            raise ArchiveError(f"{self.path}: the pickle is larger than {MAX_PICKLE_BYTES} bytes")
        data = self._read(name)
        try:
            return _Unpickler(data, self).load()
        except ArchiveError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
                AttributeError, KeyError, RecursionError) as err:  # fmt: skip
            raise ArchiveError(f"{self.path}: the pickle cannot be read: {err}") from err

    def check_storage(self, storage: _Storage) -> None:
        name = f"{self.root}/data/{storage.key}"
        if name not in self._sizes:
            raise ArchiveError(f"{self.path}: storage {storage.key} is missing from the archive")
        if storage.numel * storage.dtype.itemsize > self._sizes[name]:
            raise ArchiveError(
                f"{self.path}: storage {storage.key} is shorter than the pickle says "
                "(truncated or corrupted)"
            )

    def storage(self, key: str, dtype: np.dtype) -> np.ndarray:
        """The whole storage ``key`` as a read-only array (read once, then cached)."""
        if key not in self._storages:
            data = self._read(f"{self.root}/data/{key}")
            self._storages[key] = np.frombuffer(data, dtype=dtype)
        return self._storages[key]

    def done_with(self, key: str) -> None:
        """One view of storage ``key`` was read; drop the storage after its last view."""
        left = self.views.get(key, 1) - 1
        self.views[key] = left
        if left <= 0:
            self._storages.pop(key, None)

    def release(self) -> None:
        """Drop the cached storages (the archive stays readable)."""
        self._storages.clear()


# --------------------------------------------------------------------------- modules


@dataclass
class ModuleRecord:
    """A ``torch.nn.Module`` of the file, as data.

    Attributes:
        path: dotted path from the root (``""`` for the root).
        cls: the dotted class name.
        parameters: the module's own parameters (not its children's).
        buffers: its own persistent buffers.
        children: child modules, in order.
        attrs: every other attribute of its ``__dict__``.
    """

    path: str
    cls: str
    parameters: dict[str, Any]
    buffers: dict[str, Any]
    children: dict[str, ModuleRecord]
    attrs: dict[str, Any]

    @property
    def class_name(self) -> str:
        """The last component of the class name."""
        return self.cls.rsplit(".", 1)[-1]

    def child(self, name: str) -> ModuleRecord:
        """A child by dotted path; raises ``KeyError`` naming the path."""
        node = self
        for part in name.split("."):
            if part not in node.children:
                raise KeyError(f"{_join(node.path, part)}")
            node = node.children[part]
        return node

    def has(self, name: str) -> bool:
        """Whether a child module exists at the dotted path."""
        try:
            self.child(name)
        except KeyError:
            return False
        return True

    def tensor(self, name: str) -> LazyArray:
        """A parameter or buffer of this module by name; raises ``KeyError`` naming it."""
        if name in self.parameters:
            return self.parameters[name]
        if name in self.buffers:
            return self.buffers[name]
        raise KeyError(_join(self.path, name))

    def modules(self) -> Iterator[ModuleRecord]:
        """This module and all its descendants, depth first."""
        yield self
        for child in self.children.values():
            yield from child.modules()

    def state_dict(self) -> dict[str, Any]:
        """Parameters and persistent buffers by dotted name, in ``torch`` order."""
        out: dict[str, Any] = {}
        for node in self.modules():
            prefix = node.path[len(self.path) :].lstrip(".")
            for name, value in {**node.parameters, **node.buffers}.items():
                out[_join(prefix, name)] = value
        return out


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


_MODULE_KEYS = frozenset(
    {
        "training",
        "_parameters",
        "_buffers",
        "_non_persistent_buffers_set",
        "_modules",
        "_backward_pre_hooks",
        "_backward_hooks",
        "_is_full_backward_hook",
        "_forward_hooks",
        "_forward_hooks_with_kwargs",
        "_forward_hooks_always_called",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "_load_state_dict_pre_hooks",
        "_load_state_dict_post_hooks",
    }
)


def is_module(obj: Any) -> bool:
    """Whether an inert record is a ``torch.nn.Module`` (it has a module ``__dict__``)."""
    return isinstance(obj, Record) and "_modules" in obj.attrs and "_parameters" in obj.attrs


def module_tree(obj: Any, path: str = "", *, source: Path | str = "") -> ModuleRecord:
    """Turn the inert record of a ``torch.nn.Module`` into a `ModuleRecord` tree.

    Raises:
        ArchiveError: ``obj`` (or a child) is not a module record.
    """
    if not is_module(obj):
        what = obj.cls if isinstance(obj, Record) else type(obj).__name__
        raise ArchiveError(f"{source}: {path or 'the root object'} is not a torch module ({what})")
    state = obj.attrs
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    parameters = {k: v for k, v in (state.get("_parameters") or {}).items() if v is not None}
    buffers = {
        k: v
        for k, v in (state.get("_buffers") or {}).items()
        if v is not None and k not in non_persistent
    }
    children = {}
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if isinstance(child, Record) and not is_module(child):
            # e.g. a torch.fx graph rebuilt from Python source: kept as an opaque leaf
            children[name] = ModuleRecord(_join(path, name), child.cls, {}, {}, {}, {})
            continue
        children[name] = module_tree(child, _join(path, name), source=source)
    attrs = {k: v for k, v in state.items() if k not in _MODULE_KEYS}
    return ModuleRecord(path, obj.cls, parameters, buffers, children, attrs)
