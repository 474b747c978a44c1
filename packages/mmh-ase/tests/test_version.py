"""The version has one source: the installed distribution's metadata."""

from importlib.metadata import version

import mmh_ase


def test_version_is_the_installed_metadata_version() -> None:
    assert mmh_ase.__version__ == version("mmh-ase")
