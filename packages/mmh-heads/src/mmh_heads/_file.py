"""The model file: one safetensors file, weights plus a JSON header; nothing is unpickled."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from safetensors.torch import safe_open as _safe_open

from ._config import ModelConfig
from ._model import MultiHeadMACE

#: the format written by `save_model`
FORMAT_VERSION = 1
_FORMAT_NAME = "mmh-model"
_KEY = "mmh"


class ModelFileError(ValueError):
    """A model file cannot be read: not an mmh model, corrupted, or from a newer version."""


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("mmh-heads", "mmh-layers", "mmh-data", "torch", "e3nn", "safetensors"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_model(model: MultiHeadMACE, path: str | Path) -> Path:
    """Write ``model`` to one ``.safetensors`` file.

    The file holds the weights and buffers, and in its header a JSON document with the
    format version, the hyper-parameters (``ModelConfig``, including heads, E0s and
    scale/shift), the element table, the float dtype, library versions, a SHA-256 of
    the tensors and, for an imported model, where it came from (``source``: the file name,
    its SHA-256, the version of the code that wrote it and the heads it had).

    Args:
        model: The model.
        path: Target file (conventionally ``*.safetensors``).

    Returns:
        The path written.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    header = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "elements": list(model.elements),
        "heads": list(model.heads),
        "dtype": str(model.dtype).removeprefix("torch."),
        "versions": _versions(),
        "sha256": _digest(tensors),
    }
    if model.provenance is not None:
        header["source"] = model.provenance
    save_file(tensors, str(path), metadata={_KEY: json.dumps(header)})
    return path


def read_model_header(path: str | Path) -> dict:
    """The JSON header of a model file (no weights are read)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with _safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(
            f"{path}: not a readable safetensors file (corrupted or not an mmh model): {err}"
        ) from err
    if _KEY not in meta:
        raise ModelFileError(f"{path}: a safetensors file without an mmh model header")
    try:
        header = json.loads(meta[_KEY])
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{path}: the model header is not valid JSON: {err}") from err
    if header.get("format") != _FORMAT_NAME:
        raise ModelFileError(f"{path}: header format {header.get('format')!r} is not an mmh model")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format version {version!r} is newer than this mmh-heads "
            f"reads (up to {FORMAT_VERSION}); upgrade mmh-heads to load it"
        )
    return header


def load_model(path: str | Path, device: str | torch.device = "cpu") -> MultiHeadMACE:
    """Load a model written by [`save_model`][mmh_heads.save_model], without unpickling anything.

    Raises:
        ModelFileError: The file is missing, corrupted (header or checksum), not an mmh
            model, or written in a newer format version.
    """
    path = Path(path)
    header = read_model_header(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(f"{path}: the weights cannot be read (corrupted file): {err}") from err
    if _digest(tensors) != header.get("sha256"):
        raise ModelFileError(f"{path}: checksum mismatch, the weights are corrupted")
    dtype = getattr(torch, header.get("dtype", "float32"))
    model = MultiHeadMACE(ModelConfig.from_dict(header["config"]), dtype=dtype)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise ModelFileError(
            f"{path}: weights do not match the architecture: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    model.provenance = header.get("source")
    return model.to(device)
