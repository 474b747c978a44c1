"""The input model of fine-tuning: its base head, the other heads it keeps, and what the
run log records about the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmh_heads import MultiHeadMACE, read_model_header

from ._config import FinetuneConfig, TrainConfig
from ._typed import ConfigError

__all__ = ["base_head", "input_model", "input_model_summary", "kept_heads"]

#: Entries of the model-file header written by every mmh model file.
_STANDARD_HEADER = ("format", "format_version", "config", "elements", "heads", "dtype", "versions")


def base_head(ft: FinetuneConfig, heads: list[str]) -> str:
    """``finetune.base_head``, or the model's only head.

    Raises:
        ConfigError: No base head named for a multi-head model, or an unknown one.
    """
    if ft.base_head is None:
        if len(heads) > 1:
            raise ConfigError(
                f"finetune.base_head: the model has heads {heads}; choose the one to keep"
            )
        return heads[0]
    if ft.base_head not in heads:
        raise ConfigError(f"finetune.base_head: unknown head {ft.base_head!r}; heads: {heads}")
    return ft.base_head


def kept_heads(config: TrainConfig, heads: list[str], base: str) -> list[str]:
    """The heads of the input model that stay, in the model's order (the base head
    included unless the run is naive).

    Raises:
        ConfigError: ``finetune.keep_heads`` names a head the model does not have; a new
            head under ``heads`` has the name of the base head or of a head of the model
            that is not kept.
    """
    ft = config.finetune
    if ft.keep_heads == "all":
        wanted = set(heads)
    else:
        for name in ft.keep_heads:
            if name not in heads:
                raise ConfigError(
                    f"finetune.keep_heads: unknown head {name!r}; the model's heads are {heads}"
                )
        wanted = set(ft.keep_heads)
    wanted.add(base)
    kept = [h for h in heads if h in wanted]
    for name in config.heads:
        if name == base:
            raise ConfigError(f"heads.{base}: a new head cannot have the base head's name")
        if name in heads and name not in kept:
            raise ConfigError(
                f"heads.{name}: the input model has a head {name!r} that is not kept; add it "
                "to finetune.keep_heads to train it, or give the new head another name"
            )
    return kept


def input_model(model: MultiHeadMACE, kept: list[str]) -> MultiHeadMACE:
    """The input model with the kept heads only (each with its exact predictions)."""
    if len(kept) == 1:
        return model.extract_head(kept[0])
    for name in [h for h in model.heads if h not in kept]:
        model.remove_head(name)
    return model


def input_model_summary(path: str | Path, heads: list[str]) -> dict[str, Any]:
    """The file, its heads, its weights' checksum and any extra header entries (such as
    the provenance of an imported model), for the run log."""
    header = read_model_header(path)
    extra = {k: v for k, v in header.items() if k not in (*_STANDARD_HEADER, "sha256")}
    return {"file": str(path), "heads": heads, "sha256": header.get("sha256"), **extra}
