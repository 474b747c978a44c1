"""The version has one source: the installed distribution's metadata."""

from importlib.metadata import version

import mmh_bench


def test_version_is_the_installed_metadata_version() -> None:
    assert mmh_bench.__version__ == version("mmh-bench")
