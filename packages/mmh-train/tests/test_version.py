"""The version has one source: the installed distribution's metadata."""

from importlib.metadata import version

import mmh_train


def test_version_is_the_installed_metadata_version() -> None:
    assert mmh_train.__version__ == version("mmh-train")
