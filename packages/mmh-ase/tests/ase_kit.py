"""The model of the mmh-ase tests: `mmh_heads.testing.tiny_model` on their elements."""

import functools

import torch
from mmh_heads import MultiHeadMACE
from mmh_heads.testing import HEADS, R_MAX, tiny_model

__all__ = ["ELEMENTS", "HEADS", "MODEL", "R_MAX", "shared_model"]

#: the elements of the test models: H, C, O and Al
ELEMENTS = (1, 6, 8, 13)
#: the keyword arguments of `tiny_model` for a model of these tests (add dtype=, seed=)
MODEL = {"elements": ELEMENTS, "r_max": R_MAX}


@functools.lru_cache
def shared_model(dtype=torch.float64) -> MultiHeadMACE:
    """One two-head `tiny_model` per dtype for the whole session (building one takes ~1 s);
    tests must not modify it."""
    return tiny_model(dtype=dtype, **MODEL)
