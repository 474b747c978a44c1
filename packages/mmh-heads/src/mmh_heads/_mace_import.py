"""Import mace-torch model files into mmh: read without running code, map exactly, record
where the model came from, and write an mmh model file."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from ._file import save_model
from ._mace_convert import convert
from ._mace_spec import MaceFileError, read_spec
from ._model import MultiHeadMACE
from ._torch_archive import ArchiveError, LazyArray, ModuleRecord, TorchArchive, module_tree

__all__ = ["MaceFileError", "import_mace", "load_mace_model"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _module_tree(path: Path) -> ModuleRecord:
    try:
        return module_tree(TorchArchive(path).load(), source=path)
    except ArchiveError as err:
        raise MaceFileError(str(err)) from err


def _with_state_dict(template: ModuleRecord, path: Path) -> ModuleRecord:
    """The template's module tree with the tensors of a mace checkpoint or state-dict file."""
    try:
        obj = TorchArchive(path).load()
    except ArchiveError as err:
        raise MaceFileError(str(err)) from err
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, LazyArray) for v in obj.values()):
        raise MaceFileError(
            f"{path}: not a state dict (a mapping of names to tensors) nor a mace checkpoint "
            "({'model': state_dict, ...})"
        )
    expected = template.state_dict()
    missing = sorted(set(expected) - set(obj))
    unexpected = sorted(k for k in set(obj) - set(expected) if "._w3j_" not in k)
    if missing or unexpected:
        raise MaceFileError(
            f"{path}: the state dict does not match the architecture of the hyper-parameter "
            f"file: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for node in template.modules():
        for table in (node.parameters, node.buffers):
            for name in table:
                key = f"{node.path}.{name}" if node.path else name
                new = obj[key]
                if new.shape != table[name].shape:
                    raise MaceFileError(
                        f"{path}: {key} has shape {new.shape}, the architecture has "
                        f"{table[name].shape}"
                    )
                table[name] = new
    return template


def load_mace_model(
    path: str | Path,
    *,
    heads: Sequence[str] | None = None,
    dtype: torch.dtype | str | None = None,
    hyperparameters: str | Path | None = None,
) -> MultiHeadMACE:
    """Read a mace-torch model file into an mmh model, without running code from the file.

    Reads ``.model`` files (``torch.save`` of the whole model, e3nn or cuequivariance form,
    optionally gzip-compressed) written by mace-torch 0.3.13–0.3.16. A state-dict or
    checkpoint ``.pt`` file is read with ``hyperparameters``: a ``.model`` file of the same
    architecture, whose tensors are replaced by those of ``path``.

    The result computes what mace-torch's calculator computes, head by head, to floating-point
    round-off; ``model.provenance`` says where it came from.

    Args:
        path: the mace file.
        heads: keep only these heads (default: all); they keep the file's order.
        dtype: float dtype of the model (default: the file's).
        hyperparameters: for a state-dict file, the ``.model`` file with its architecture.

    Raises:
        MaceFileError: the file is not a torch archive, is truncated, or holds a class, block,
            attribute or head that mmh does not import; the message names it.

    Example:
        >>> model = load_mace_model("mace-mh-1.model", heads=["omat_pbe"])  # doctest: +SKIP
        >>> model.heads  # doctest: +SKIP
        ['omat_pbe']
    """
    path = Path(path)
    if hyperparameters is None:
        root = _module_tree(path)
    else:
        root = _with_state_dict(_module_tree(Path(hyperparameters)), path)
    spec = read_spec(root, path.name)
    where = f"{path.name} (mace-torch {spec.version})"
    if isinstance(dtype, str):
        dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    model = convert(spec, where, dtype)
    if heads is not None:
        heads = list(heads)
        unknown = [h for h in heads if h not in spec.heads]
        if unknown or not heads:
            raise MaceFileError(
                f"{path}: unknown head(s) {unknown}; the file's heads are {list(spec.heads)}"
            )
        for head in [h for h in spec.heads if h not in heads]:
            model.remove_head(head)
    model.provenance = {
        **(model.provenance or {}),
        "format": "mace-torch",
        "file": path.name,
        "sha256": _sha256(path),
        "mace_version": spec.version,
        "heads": list(spec.heads),
        "kept_heads": list(model.heads),
        "dtype": spec.dtype,
        "model_class": spec.model_class,
        "blocks": dict(spec.classes),
        "form": "cuequivariance" if spec.cueq else "e3nn",
        **({"hyperparameters_file": Path(hyperparameters).name} if hyperparameters else {}),
    }
    return model


def import_mace(
    path: str | Path,
    output: str | Path,
    *,
    heads: Sequence[str] | None = None,
    dtype: torch.dtype | str | None = None,
    hyperparameters: str | Path | None = None,
    force: bool = False,
) -> Path:
    """Convert a mace-torch model file into an mmh model file (``.safetensors``).

    The output keeps every head (or ``heads``) with its name, E0s, scale and shift, the element
    table, r_max, the average neighbour count, ZBL, the activation constants mace stored, and
    in its header where the model came from (file name, SHA-256, mace version, heads). It is
    written to a temporary file first, so a failed import leaves nothing behind.

    Args:
        path: the mace file (see ``load_mace_model``).
        output: the mmh model file to write.
        heads: keep only these heads.
        dtype: float dtype of the output (default: the file's).
        hyperparameters: for a state-dict file, the ``.model`` file with its architecture.
        force: overwrite ``output`` if it exists.

    Returns:
        The path written.

    Raises:
        MaceFileError: see ``load_mace_model``.
        FileExistsError: ``output`` exists and ``force`` is False.
    """
    output = Path(output)
    if output.exists() and not force:
        raise FileExistsError(f"{output} exists; pass force=True (--force) to overwrite it")
    model = load_mace_model(path, heads=heads, dtype=dtype, hyperparameters=hyperparameters)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(fd)
    try:
        save_model(model, tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return output
