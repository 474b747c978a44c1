"""Choosing a head, and reading the heads of a model file without loading its weights."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mmh_heads import read_model_header

__all__ = ["HeadSelectionError", "choose_head", "list_heads"]


class HeadSelectionError(ValueError):
    """The head asked for is not in the model, or a multi-head model was given no head."""


def list_heads(path: str | Path, *, meta: bool = False) -> list[str] | dict[str, dict]:
    """The head names of a model file, in model order, without reading the weights.

    Args:
        path: A model file written by [`mmh_heads.save_model`][].
        meta: Return ``{head: metadata}`` instead, the metadata of each head as the file
            stores it (``level_of_theory``, ``dispersion``, ``datasets``, ``notes``; an
            empty dict for a head without any, or for files written before heads had it).

    Returns:
        The head names, or with ``meta`` a dict of head name to metadata in model order.

    Raises:
        mmh_heads.ModelFileError: The file is missing or is not an mmh model.

    Example:
        >>> list_heads("model.safetensors")  # doctest: +SKIP
        ['pbe', 'r2scan', 'wb97m']
        >>> list_heads("model.safetensors", meta=True)["pbe"]  # doctest: +SKIP
        {'level_of_theory': 'PBE', 'dispersion': False, 'datasets': ['omat']}
    """
    header = read_model_header(path)
    heads = [str(h) for h in header["heads"]]
    if not meta:
        return heads
    stored = header.get("config", {}).get("head_meta", {})
    return {h: dict(stored.get(h, {})) for h in heads}


def choose_head(heads: Sequence[str], head: str | None, source: str) -> str:
    """The head to evaluate: ``head`` itself, or the only head of a one-head model.

    Args:
        heads: The model's heads.
        head: The head asked for, or ``None``.
        source: What the model is (a file name or ``"the model"``), for messages.

    Returns:
        The chosen head name.

    Raises:
        HeadSelectionError: ``head`` is not among ``heads``, or ``head`` is ``None`` and the
            model has several heads. The message lists the heads.
    """
    heads = [str(h) for h in heads]
    if head is None:
        if len(heads) == 1:
            return heads[0]
        raise HeadSelectionError(
            f"{source} has {len(heads)} heads {heads}; choose one with head=..., "
            f"e.g. head={heads[0]!r}"
        )
    if not isinstance(head, str):
        raise HeadSelectionError(f"head must be a head name (str), got {head!r}; heads: {heads}")
    if head not in heads:
        raise HeadSelectionError(f"{source} has no head {head!r}; its heads are {heads}")
    return head
