"""Registry entries that let other tools load an mmh head by name: ml-peg's
``models.yml`` entry, built from the head's metadata in the model file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmh_heads import read_model_header

from ._heads import choose_head

__all__ = ["ml_peg_entry"]


def ml_peg_entry(
    model: str | Path,
    head: str | None = None,
    *,
    device: str = "auto",
    trained_on_dispersion: bool | None = None,
    datasets: list[str] | None = None,
) -> dict[str, Any]:
    """An ml-peg ``models.yml`` entry for one head of a model file.

    ml-peg builds the calculator as ``mmh_ase.MMHCalculator(model=..., head=...,
    device=..., default_dtype=...)``, its precision setting becoming ``default_dtype``. It
    adds D3 on top unless ``trained_on_dispersion`` is true, which is why the entry takes
    it from the head's ``dispersion`` metadata; ``level_of_theory`` comes from the
    metadata too.

    Args:
        model: The model file.
        head: The head (a one-head model needs none).
        device: ml-peg's ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``).
        trained_on_dispersion: Overrides the head's ``dispersion`` metadata.
        datasets: ml-peg dataset names (they must be known to ml-peg's element coverage
            table, so mmh's own dataset names are not copied); default none.

    Returns:
        The entry, to be written under the model's name in a ``models.yml``.

    Raises:
        ValueError: The head's metadata does not say whether dispersion is included and
            ``trained_on_dispersion`` is not given (ml-peg requires it).
        HeadSelectionError: Unknown head, or none for a multi-head model.

    Example:
        >>> ml_peg_entry("model.safetensors", "pbe")  # doctest: +SKIP
        {'module': 'mmh_ase', 'class_name': 'MMHCalculator', 'device': 'auto',
         'trained_on_dispersion': False, 'level_of_theory': 'PBE',
         'kwargs': {'model': 'model.safetensors', 'head': 'pbe'}}
    """
    header = read_model_header(model)
    head = choose_head(header["heads"], head, f"model file {str(model)!r}")
    meta = header.get("config", {}).get("head_meta", {}).get(head, {})
    dispersion = meta.get("dispersion") if trained_on_dispersion is None else trained_on_dispersion
    if dispersion is None:
        raise ValueError(
            f"head {head!r} of {model}: its metadata does not say whether the labels include "
            "dispersion, which ml-peg needs (it adds D3 otherwise); set heads."
            f"{head}.meta.dispersion when training, or pass trained_on_dispersion="
        )
    entry: dict[str, Any] = {
        "module": "mmh_ase",
        "class_name": "MMHCalculator",
        "device": device,
        "trained_on_dispersion": bool(dispersion),
    }
    if meta.get("level_of_theory"):
        entry["level_of_theory"] = meta["level_of_theory"]
    if datasets:
        entry["datasets"] = list(datasets)
    entry["kwargs"] = {"model": str(model), "head": head}
    return entry
