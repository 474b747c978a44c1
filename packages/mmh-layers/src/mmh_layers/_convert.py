"""Moving parameters between models built with different backends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Build modules with ``dtype`` as torch's default (so derived constants are exact)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def copy_parameters(source: torch.nn.Module, target: torch.nn.Module) -> None:
    """Copy every parameter of ``source`` into the parameter of the same name in ``target``.

    Both modules must have exactly the same parameter names and shapes (buffers are derived
    from the hyper-parameters and are not copied). Raises ``ValueError`` naming the first
    difference.
    """
    src = dict(source.named_parameters())
    dst = dict(target.named_parameters())
    if src.keys() != dst.keys():
        missing = sorted(src.keys() - dst.keys())[:5]
        extra = sorted(dst.keys() - src.keys())[:5]
        raise ValueError(
            f"parameter names differ: only in source {missing}, only in target {extra}"
        )
    with torch.no_grad():
        for name, p in src.items():
            if p.shape != dst[name].shape:
                raise ValueError(f"{name}: shape {tuple(p.shape)} vs {tuple(dst[name].shape)}")
            dst[name].copy_(p)
