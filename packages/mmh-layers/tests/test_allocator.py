"""Keeping freed CPU memory: repeated steps reuse their pages instead of faulting them in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# a "step" that allocates and frees 16 tensors of 16-48 MiB, as a model step does; the page
# faults of the last steps, when the heap has reached its size
CODE = """
import resource, torch
from mmh_layers import keep_freed_cpu_memory
applied = keep_freed_cpu_memory()
assert keep_freed_cpu_memory() == applied  # idempotent
faults = []
for step in range(6):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    xs = [torch.ones(2**22 * (1 + k % 3)) for k in range(8)]
    ys = [x * 2 for x in xs]
    del xs, ys
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, sum(faults[3:]))
"""


def _run(**env) -> tuple[bool, int]:
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_memory_is_reused_and_the_system_setting_opts_out():
    applied, faults = _run(MMH_CPU_ALLOCATOR="")
    off, system_faults = _run(MMH_CPU_ALLOCATOR="system")
    assert applied and not off
    # 3 steps of 512 MiB are 393,216 pages of 4 KiB: glibc's defaults fault them in again
    assert system_faults > 100_000
    assert faults < system_faults / 10
