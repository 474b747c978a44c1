"""Fixtures shared by the mmh-layers tests."""

import pytest
import torch


def _parametrized_directly(node, name: str) -> bool:
    """Whether a ``pytest.mark.parametrize`` of the test gives the argument ``name``."""
    for mark in node.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs["argnames"]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if name in names:
            return True
    return False


@pytest.fixture(autouse=True)
def _default_dtype_follows_dtype(request):
    """The dtype policy of the mmh-layers tests, whose modules and random inputs are built
    in torch's default dtype: a test that takes the root ``dtype`` fixture runs with the
    default dtype set to it and the random seed set to 0, and the previous default dtype is
    restored afterwards. Tests that do not take the fixture are left alone, including those
    that parametrize an argument named ``dtype`` themselves (they pass it explicitly)."""
    if "dtype" not in request.fixturenames or _parametrized_directly(request.node, "dtype"):
        yield
        return
    dtype = request.getfixturevalue("dtype")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(previous)
