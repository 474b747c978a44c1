"""Fixtures shared by the tests of every package."""

import pytest
import torch


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request):
    """Every test that takes ``dtype`` runs in float32 and float64.

    Torch's default dtype is left alone here; the conftest of mmh-layers, whose tests build
    modules in the default dtype, sets it to ``dtype`` for its tests that take it.
    """
    yield request.param
