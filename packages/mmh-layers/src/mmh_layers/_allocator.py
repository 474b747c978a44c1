"""Keeping freed CPU memory for reuse instead of returning it to the operating system.

One energy + forces step on the CPU allocates and frees gigabytes of temporaries (per-edge
radial weights, the saved activations of the backward pass). glibc's ``malloc`` serves every
block above 32 MiB by ``mmap`` and unmaps it on ``free``, and it trims the top of the heap when
more than 128 KiB is free, so each step asks the kernel for fresh, zeroed pages again. On a
1000-atom crystal that is about 2 GB of page faults per step (30 % of the CPU time, in the
kernel); at 10,000 atoms about 40 GB, which made a step more than 17 times slower than at
1000 atoms. `keep_freed_cpu_memory` switches both off, so freed blocks stay in the heap and
the next step reuses them: the page faults disappear and the process's resident memory stays
at its peak instead of going up and down.

[`mmh_ase.MMHCalculator`][], the trainer on the CPU and the MD-engine couplings call it. Set
``MMH_CPU_ALLOCATOR=system`` to keep glibc's defaults (for example when the process must
give memory back between evaluations). Where the C library is not glibc (macOS, musl) or
another allocator is preloaded, nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_freed_cpu_memory"]

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

_applied: bool | None = None


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # only glibc has it  # noqa: B018
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_cpu_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse (no ``mmap`` for large blocks,
    no trimming of the heap). Idempotent; applies once per process.

    Returns:
        Whether the setting is in effect: False under ``MMH_CPU_ALLOCATOR=system``, or
        where the C library is not glibc.
    """
    global _applied
    if _applied is not None:
        return _applied
    if os.environ.get("MMH_CPU_ALLOCATOR", "").strip().lower() in ("system", "default", "0"):
        _applied = False
        return False
    libc = _glibc()
    if libc is None:
        _applied = False
        return False
    ok = libc.mallopt(_M_MMAP_MAX, 0) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, -1) == 1 and ok
    _applied = ok
    return ok
