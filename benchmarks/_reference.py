"""Run the reference implementation (mace-torch 0.3.16) in its own virtual environment.

mace-torch 0.3.16 pins e3nn 0.4.4, which conflicts with the e3nn 0.6 of the workspace, so the
reference code never runs in the workspace interpreter. This module creates a separate virtual
environment on demand (``.benchmarks-env/`` at the repository root, git-ignored) with uv, with the
same torch version as the workspace, and runs ``reference/mace_worker.py`` inside it. The worker
speaks JSON: a spec goes in, a result comes out.

Another mace-torch release gets its own environment:
``ensure_reference_env(mace_version="0.3.15")`` creates ``.benchmarks-env-0.3.15/`` (also
git-ignored) the same way; the mmh-heads test fixtures are made that way.

Example (from a benchmark script run with ``uv run python benchmarks/...``)::

    from _reference import run_reference

    result = run_reference({"task": "count", "block": "nonlinear"})
    print(result["total"])
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENV_DIR = REPO_ROOT / ".benchmarks-env"
WORKER = Path(__file__).resolve().parent / "reference" / "mace_worker.py"
MACE_VERSION = "0.3.16"
PYTHON_VERSION = "3.11"

# The speed benchmark's settings (issue: 128 channels, L=1, 1000-atom carbon fcc crystal with
# a = 3.8 A, r_max = 6 A, float32, CPU). A primitive fcc cell holds one atom, so a 10x10x10 repeat
# gives exactly 1000 atoms (the cubic cell holds 4: 5x5x5 would give 500). The other
# hyper-parameters are the worker's defaults, i.e. the MACE-MH-1 ones (89 elements, 10 Bessel, p=5,
# 2 interactions, correlation 3, max_ell 3, radial MLP [64, 64, 64], agnostic product, Agnesi,
# ZBL, apply_cutoff=False, use_reduced_cg=False, one head).
BENCHMARK_SPEC: dict[str, Any] = {
    "hidden_irreps": "128x0e+128x1o",
    "edge_irreps": "128x0e+128x1o",
    "use_edge_irreps_first": True,
    "r_max": 6.0,
    "dtype": "float32",
    "num_threads": 2,
    "structure": {
        "symbol": "C",
        "crystal": "fcc",
        "a": 3.8,
        "cubic": False,
        "repeat": [10, 10, 10],
        "rattle": 0.0,
    },
}

__all__ = [
    "BENCHMARK_SPEC",
    "MACE_VERSION",
    "ReferenceEnvError",
    "default_env_dir",
    "ensure_reference_env",
    "reference_env_vars",
    "run_reference",
    "time_reference",
]


class ReferenceEnvError(RuntimeError):
    """The isolated reference environment could not be created or used."""


def _workspace_torch_version() -> str:
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError as err:
        raise ReferenceEnvError(
            "torch is not installed in this interpreter; run the benchmark with `uv run` from "
            "the repository root so that the workspace environment is used."
        ) from err
    # A local version label (e.g. "+cu132") names the wheel build, not a release on the index.
    return version.split("+", 1)[0]


def _env_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def _stamp(torch_version: str, mace_version: str = MACE_VERSION) -> str:
    return f"mace-torch=={mace_version} torch=={torch_version} python=={PYTHON_VERSION}\n"


def default_env_dir(mace_version: str = MACE_VERSION) -> Path:
    """Where the environment of a mace-torch release lives by default.

    ``.benchmarks-env/`` for the reference release (``MACE_VERSION``), and
    ``.benchmarks-env-<version>/`` for any other, both at the repository root.
    """
    if mace_version == MACE_VERSION:
        return DEFAULT_ENV_DIR
    return REPO_ROOT / f".benchmarks-env-{mace_version}"


def reference_env_vars() -> dict[str, str]:
    """Environment variables for processes of the reference interpreter.

    e3nn 0.4.4 loads its constants with ``torch.load``; torch >= 2.6 defaults to
    ``weights_only=True``, which rejects them unless this variable is set.
    """
    env = dict(os.environ)
    env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    # The workspace's virtual environment must not leak into the reference interpreter.
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    return env


def ensure_reference_env(
    env_dir: Path | str | None = None,
    *,
    quiet: bool = False,
    mace_version: str = MACE_VERSION,
) -> Path:
    """Create (once) the isolated environment with mace-torch and return its python.

    The environment is reused when it exists and was built for the same mace-torch and torch
    versions; it is rebuilt otherwise. ``mace_version`` selects another mace-torch release
    (default: ``MACE_VERSION``); without ``env_dir`` its environment is
    :func:`default_env_dir` of that version. Raises :class:`ReferenceEnvError` with a readable
    message when uv is missing or the installation fails (e.g. no access to the package index).
    """
    env_dir = Path(env_dir) if env_dir is not None else default_env_dir(mace_version)
    python = _env_python(env_dir)
    torch_version = _workspace_torch_version()
    stamp_file = env_dir / "mmh-reference.txt"
    stamp = _stamp(torch_version, mace_version)
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return python

    uv = shutil.which("uv")
    if uv is None:
        raise ReferenceEnvError(
            "uv is needed to create the reference environment (mace-torch "
            f"{mace_version}); install it with `pip install uv`."
        )
    commands = [
        [uv, "venv", str(env_dir), "--python", PYTHON_VERSION, "--clear"],
        [
            uv,
            "pip",
            "install",
            "--python",
            str(python),
            f"mace-torch=={mace_version}",
            f"torch=={torch_version}",
        ],
    ]
    if not quiet:
        print(
            f"creating the reference environment in {env_dir} "
            f"(mace-torch {mace_version}, torch {torch_version}); this happens once",
            file=sys.stderr,
        )
    for command in commands:
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ReferenceEnvError(
                "could not create the reference environment "
                f"(command: {' '.join(command)}):\n{proc.stderr.strip()}\n"
                "The reference comparison needs access to the Python package index; delete "
                f"{env_dir} and try again once it is reachable."
            )
    stamp_file.write_text(stamp)
    return python


def run_reference(
    spec: dict[str, Any],
    *,
    env_dir: Path | str | None = None,
    nice: int = 0,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run one task of ``reference/mace_worker.py`` in the reference environment.

    Args:
        spec: the worker's JSON spec (see the worker's docstring for the keys).
        env_dir: where the environment lives (default: ``.benchmarks-env/`` at the repo root).
        nice: niceness increment for the worker process (e.g. 10 on a shared machine).
        timeout: seconds before the worker is killed.

    Returns:
        The worker's JSON answer, as a dict.
    """
    python = ensure_reference_env(env_dir)
    command = [str(python), str(WORKER)]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    proc = subprocess.run(
        command,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=reference_env_vars(),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise ReferenceEnvError(
            f"the reference worker failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    return json.loads(proc.stdout)


def time_reference(block: str, *, repeats: int = 5, warmup: int = 2, nice: int = 10, **overrides):
    """Seconds per energy+forces step of mace-torch on the benchmark crystal.

    A thin wrapper over :func:`run_reference` with ``BENCHMARK_SPEC`` and ``task="time"``;
    ``overrides`` replace individual spec keys (e.g. ``num_threads=4``). Returns the worker's
    answer: ``seconds_per_step`` (wall time: median, mean, min, all, warmup),
    ``cpu_seconds_per_step`` (process CPU time, all threads), ``num_atoms``, ``num_edges``,
    ``peak_rss_mib``, ``energy``, ``num_parameters``, ``constructor`` and ``versions``.
    """
    spec = {**BENCHMARK_SPEC, **overrides, "task": "time", "block": block}
    spec["repeats"], spec["warmup"] = repeats, warmup
    return run_reference(spec, nice=nice)


def _main(argv: list[str]) -> int:
    """``_reference.py``: create the environment; ``_reference.py time BLOCK...``: time blocks."""
    if not argv:
        print(ensure_reference_env())
        return 0
    if argv[0] != "time" or not set(argv[1:]) <= {"linear", "nonlinear"}:
        print("usage: _reference.py [time {linear,nonlinear}...]", file=sys.stderr)
        return 2
    for block in argv[1:] or ["linear", "nonlinear"]:
        answer = time_reference(block)
        seconds = answer["seconds_per_step"]
        print(
            f"mace-torch {block:9s}: {seconds['median']:.3f} s/step median "
            f"({seconds['mean']:.3f} mean; CPU "
            f"{answer['cpu_seconds_per_step']['median']:.3f} s), {answer['num_atoms']} atoms, "
            f"{answer['num_edges']} edges, peak RSS {answer['peak_rss_mib']:.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
