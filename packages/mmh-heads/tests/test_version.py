"""The version has one source: the installed distribution's metadata."""

from importlib.metadata import version

import mmh_heads


def test_version_is_the_installed_metadata_version() -> None:
    assert mmh_heads.__version__ == version("mmh-heads")
