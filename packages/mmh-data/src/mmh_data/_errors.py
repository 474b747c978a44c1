"""Exceptions and warnings raised by mmh-data.

Every error about input data says *where* the problem is: the file, the frame index inside
that file and, when one is involved, the key. The message is built by `where`, so
all of them read the same way.
"""

from __future__ import annotations

__all__ = [
    "BadCellError",
    "BadLabelError",
    "CloseAtomsError",
    "DataError",
    "DataWarning",
    "EmptyDatasetError",
    "MalformedFileError",
    "MissingFileError",
    "MissingLabelWarning",
    "UnknownElementError",
    "UnknownHeadError",
]


def where(file: str | None = None, frame: int | None = None, key: str | None = None) -> str:
    """Format a location as ``"file 'a.xyz', frame 3, key 'REF_energy'"``.

    Args:
        file: Source file, if known.
        frame: Frame index inside the file, if known.
        key: Key (info/arrays/database column) involved, if any.

    Returns:
        A human-readable location; empty parts are left out.
    """
    parts = []
    if file is not None:
        parts.append(f"file {str(file)!r}")
    if frame is not None:
        parts.append(f"frame {frame}")
    if key is not None:
        parts.append(f"key {key!r}")
    return ", ".join(parts) if parts else "<unknown location>"


class DataError(ValueError):
    """Base class of all errors about input data.

    Attributes:
        file: The file the offending structure came from (or ``None``).
        frame: Index of the structure inside that file (or ``None``).
        key: The key involved (or ``None``).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        frame: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = None if file is None else str(file)
        self.frame = frame
        self.key = key
        loc = where(file, frame, key)
        super().__init__(
            f"{loc}: {message}" if (file, frame, key) != (None, None, None) else message
        )


class MissingFileError(DataError, FileNotFoundError):
    """A file (or database) that was asked for does not exist."""


class MalformedFileError(DataError):
    """A file could not be parsed (for example a broken extended-XYZ frame)."""


class BadLabelError(DataError):
    """A label has the wrong shape or contains NaN or infinite values."""


class BadCellError(DataError):
    """A periodic structure whose cell vectors along its periodic directions are zero or
    linearly dependent (no neighbour list can be built)."""


class CloseAtomsError(DataError):
    """Two atoms (or an atom and a periodic image) are closer than the allowed minimum."""


class UnknownElementError(DataError):
    """A structure contains an element outside the given element table."""


class UnknownHeadError(DataError):
    """A structure names a head that is not among the declared heads."""


class EmptyDatasetError(DataError):
    """A file or a collection holds no structures."""


class DataWarning(UserWarning):
    """Base class of warnings about input data."""


class MissingLabelWarning(DataWarning):
    """A label key was absent from some frames; those frames get weight 0 for that property."""
