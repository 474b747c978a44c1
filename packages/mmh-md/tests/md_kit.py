"""The model of the mmh-md tests: `mmh_heads.testing.tiny_model` on their elements."""

import functools

import torch
from mmh_heads import MultiHeadMACE
from mmh_heads.testing import HEADS, tiny_model

__all__ = ["ELEMENTS", "HEADS", "R_MAX", "shared_model"]

#: the cutoff of the test models (Å)
R_MAX = 3.5
#: the elements of the test models: H, C, O, Na, Al, Si, Cl and Fe
ELEMENTS = (1, 6, 8, 11, 13, 14, 17, 26)


@functools.lru_cache
def shared_model(dtype=torch.float64) -> MultiHeadMACE:
    """One two-layer, two-head `tiny_model` per dtype for the session; tests must not
    modify it."""
    return tiny_model(dtype=dtype, elements=ELEMENTS, r_max=R_MAX)
