"""The version has one source: the installed distribution's metadata."""

from importlib.metadata import version

import mmh_layers


def test_version_is_the_installed_metadata_version() -> None:
    assert mmh_layers.__version__ == version("mmh-layers")
