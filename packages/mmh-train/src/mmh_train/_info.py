"""What a model file holds: heads (with their metadata), elements, hyper-parameters and
provenance, read from the header without loading the weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.data import chemical_symbols
from mmh_heads import read_model_header
from mmh_heads.cli import format_head_meta

__all__ = ["format_model_info", "model_info"]


def model_info(path: str | Path) -> dict[str, Any]:
    """The description of a model file, as plain data.

    Returns:
        ``{"file", "format_version", "dtype", "elements", "heads": [{"name", "meta",
        "e0s", "scale", "shift", "readout_hidden"}], "hyperparameters" (the backbone's and
        the model's), "versions", "sha256", "source"}``; ``source`` says where an
        imported model came from (``None`` for a model trained by mmh).

    Raises:
        mmh_heads.ModelFileError: Not a readable mmh model file.
    """
    header = read_model_header(path)
    config = header["config"]
    heads = []
    for k, name in enumerate(header["heads"]):
        heads.append(
            {
                "name": name,
                "meta": config.get("head_meta", {}).get(name, {}),
                "e0s": config.get("e0s", {}).get(name, {}),
                "scale": config.get("scale", {}).get(name, 1.0),
                "shift": config.get("shift", {}).get(name, 0.0),
                "readout_hidden": config["readout_hidden"][k],
            }
        )
    model = {
        k: v
        for k, v in config.items()
        if k not in ("backbone", "heads", "e0s", "scale", "shift", "head_meta", "readout_hidden")
    }
    return {
        "file": str(path),
        "format_version": header.get("format_version"),
        "dtype": header.get("dtype"),
        "elements": list(header["elements"]),
        "heads": heads,
        "hyperparameters": {"backbone": config["backbone"], **model},
        "versions": header.get("versions", {}),
        "sha256": header.get("sha256"),
        "source": header.get("source"),
    }


def _symbols(numbers) -> str:
    return " ".join(chemical_symbols[int(z)] for z in numbers)


def format_model_info(info: dict[str, Any]) -> str:
    """The text ``mmh-train info`` prints."""
    lines = [
        f"{info['file']}: mmh model (format {info['format_version']}), {info['dtype']}, "
        f"{len(info['heads'])} head(s), {len(info['elements'])} elements"
    ]
    lines.append(f"elements: {_symbols(info['elements'])}")
    lines.append("heads:")
    for head in info["heads"]:
        e0 = head["e0s"]
        lines.append(
            f"  {head['name']}: scale {head['scale']:.6g}, shift {head['shift']:.6g} eV/atom, "
            f"readout {head['readout_hidden']} hidden, "
            f"{f'E0s for {len(e0)} elements' if e0 else 'no E0s'}"
        )
        meta = format_head_meta(head["meta"])
        lines.append(f"    {meta}" if meta else "    (no metadata)")
    lines.append("hyper-parameters:")
    for key, value in info["hyperparameters"]["backbone"].items():
        if key == "elements":
            continue
        lines.append(f"  {key}: {value}")
    for key, value in info["hyperparameters"].items():
        if key != "backbone":
            lines.append(f"  {key}: {value}")
    lines.append("provenance:")
    source = info["source"]
    if source:
        lines.append(
            f"  imported from {source.get('file')} (sha256 {source.get('sha256')}), "
            f"mace-torch {source.get('mace_version')}"
        )
    else:
        lines.append("  trained with mmh (not imported)")
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    lines.append(f"  written with {versions}")
    lines.append(f"  weights sha256 {info['sha256']}")
    return "\n".join(lines)
