"""Where a process sits in a parallel job: torchrun, SLURM (``srun``) or PBS (``mpiexec``),
read from the environment the launcher sets."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LAUNCHERS", "Placement", "detect_placement"]

#: Launchers that `detect_placement` recognises, in the order it tries them.
LAUNCHERS = ("torchrun", "slurm", "pbs")


@dataclass(frozen=True)
class Placement:
    """Rank, world size and rendezvous of one process.

    Attributes:
        launcher: ``"torchrun"``, ``"slurm"``, ``"pbs"`` or ``"none"`` (one process).
        rank: Global rank.
        world_size: Number of processes.
        local_rank: Rank on this node (selects the GPU).
        master_addr: Host of rank 0 (``None``: the launcher's rendezvous sets it).
        master_port: Port of the rendezvous on that host.
    """

    launcher: str
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None


def _int(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = env.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                raise ValueError(
                    f"environment variable {name}={value!r} is not an integer"
                ) from None
    return None


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list (``"gpu[003-005,9],cpu1"`` -> ``"gpu003"``)."""
    match = re.match(r"([^,\[]+)(\[([^\]]+)\])?", nodelist.strip())
    if match is None:
        raise ValueError(f"cannot read the SLURM node list {nodelist!r}")
    prefix, _, ranges = match.groups()
    if ranges is None:
        return prefix
    return prefix + ranges.split(",")[0].split("-")[0]


def _job_port(job_id: str) -> int:
    """A port in 20000-39999 derived from the job id (the same on every node of a job)."""
    return 20000 + zlib.crc32(job_id.encode()) % 20000


def _port(env: Mapping[str, str], job_id: str) -> int:
    return _int(env, "MASTER_PORT") or _job_port(job_id)


def _torchrun(env: Mapping[str, str]) -> Placement | None:
    world = _int(env, "WORLD_SIZE")
    if world is None:
        return None
    return Placement(
        "torchrun",
        rank=_int(env, "RANK") or 0,
        world_size=world,
        local_rank=_int(env, "LOCAL_RANK") or 0,
        master_addr=env.get("MASTER_ADDR"),
        master_port=_int(env, "MASTER_PORT"),
    )


def _slurm(env: Mapping[str, str]) -> Placement | None:
    # only srun sets the step variables: a batch script that runs python directly (with
    # SLURM_NTASKS > 1 and SLURM_PROCID=0) is one process, not rank 0 of a group
    world = _int(env, "SLURM_STEP_NUM_TASKS")
    rank = _int(env, "SLURM_PROCID")
    if world is None or rank is None or "SLURM_JOB_ID" not in env:
        return None
    nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST")
    addr = env.get("MASTER_ADDR") or (first_host(nodes) if nodes else None)
    if world > 1 and addr is None:
        raise ValueError("SLURM job without SLURM_JOB_NODELIST: set MASTER_ADDR")
    return Placement(
        "slurm",
        rank=rank,
        world_size=world,
        local_rank=_int(env, "SLURM_LOCALID") or 0,
        master_addr=addr,
        master_port=_port(env, env["SLURM_JOB_ID"]),
    )


def _pbs(env: Mapping[str, str]) -> Placement | None:
    if "PBS_JOBID" not in env:
        return None
    # PBS starts one process per node; mpiexec (Cray PALS / MPICH, or Open MPI) sets the ranks
    world = _int(env, "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PALS_SIZE")
    rank = _int(env, "PMI_RANK", "OMPI_COMM_WORLD_RANK", "PALS_RANKID")
    if world is None or rank is None:
        return None
    local = _int(env, "PMI_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "PALS_LOCAL_RANKID")
    addr = env.get("MASTER_ADDR")
    if addr is None and env.get("PBS_NODEFILE"):
        try:
            lines = Path(env["PBS_NODEFILE"]).read_text().split()
        except OSError as exc:
            raise ValueError(f"cannot read PBS_NODEFILE {env['PBS_NODEFILE']!r}: {exc}") from None
        addr = lines[0] if lines else None
    if world > 1 and addr is None:
        raise ValueError("PBS job without a readable PBS_NODEFILE: set MASTER_ADDR")
    return Placement(
        "pbs",
        rank=rank,
        world_size=world,
        local_rank=local or 0,
        master_addr=addr,
        master_port=_port(env, env["PBS_JOBID"]),
    )


def detect_placement(env: Mapping[str, str] | None = None, launcher: str = "auto") -> Placement:
    """This process's place in the job, from the launcher's environment variables.

    ``auto`` tries torchrun (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``), then SLURM tasks
    started by ``srun`` (``SLURM_PROCID``, ``SLURM_STEP_NUM_TASKS``, ``SLURM_LOCALID``;
    rank 0 on the first host of ``SLURM_STEP_NODELIST``; a batch script that runs python
    without ``srun`` is one process), then PBS jobs
    whose ``mpiexec`` sets the ranks (``PBS_JOBID`` with ``PMI_RANK``/``PMI_SIZE``/
    ``PMI_LOCAL_RANK``, or Open MPI's ``OMPI_COMM_WORLD_*``; rank 0 on the first host of
    ``PBS_NODEFILE``). The rendezvous port is ``MASTER_PORT`` or one derived from the job
    id. Nothing found: one process.

    Args:
        env: The environment (default ``os.environ``).
        launcher: ``"auto"``, one of `LAUNCHERS`, or ``"none"`` (one process,
            whatever the environment says).

    Raises:
        ValueError: An unknown launcher, a launcher that was asked for but whose
            variables are absent, or variables that are not integers.
    """
    env = os.environ if env is None else env
    readers = {"torchrun": _torchrun, "slurm": _slurm, "pbs": _pbs}
    if launcher == "none":
        return Placement("none")
    if launcher != "auto" and launcher not in readers:
        raise ValueError(f"unknown launcher {launcher!r}; use auto, none or one of {LAUNCHERS}")
    names = LAUNCHERS if launcher == "auto" else (launcher,)
    for name in names:
        found = readers[name](env)
        if found is None:
            continue
        if not 0 <= found.rank < found.world_size:
            raise ValueError(
                f"{name}: rank {found.rank} out of range for {found.world_size} processes"
            )
        return found
    if launcher != "auto":
        raise ValueError(f"launcher {launcher!r} asked for, but its variables are not set")
    return Placement("none")
