"""Scheduler environments: torchrun, SLURM (srun) and PBS (mpiexec), from their variables."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from mmh_train._launchers import detect_placement, first_host

SLURM = {
    "SLURM_JOB_ID": "4242",
    "SLURM_PROCID": "5",
    "SLURM_STEP_NUM_TASKS": "8",
    "SLURM_NTASKS": "8",
    "SLURM_LOCALID": "1",
    "SLURM_STEP_NODELIST": "gpu[007-010,012]",
    "SLURM_JOB_NODELIST": "gpu[007-010,012]",
}


def test_no_launcher_is_one_process():
    place = detect_placement({})
    assert (place.launcher, place.rank, place.world_size, place.local_rank) == ("none", 0, 1, 0)


def test_torchrun_variables():
    env = {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "MASTER_ADDR": "h", **SLURM}
    place = detect_placement(env)  # torchrun inside a SLURM job wins
    assert (place.launcher, place.rank, place.world_size, place.local_rank) == ("torchrun", 3, 4, 1)


def test_slurm_srun_task():
    place = detect_placement(SLURM)
    assert (place.launcher, place.rank, place.world_size, place.local_rank) == ("slurm", 5, 8, 1)
    assert place.master_addr == "gpu007"
    assert 20000 <= place.master_port < 40000
    assert detect_placement({**SLURM, "SLURM_PROCID": "0"}).master_port == place.master_port
    assert detect_placement({**SLURM, "MASTER_PORT": "1234"}).master_port == 1234


def test_slurm_batch_script_without_srun_is_one_process():
    env = {k: v for k, v in SLURM.items() if not k.startswith("SLURM_STEP")}
    env["SLURM_PROCID"] = "0"
    assert detect_placement(env).launcher == "none"
    with pytest.raises(ValueError, match="'slurm' asked for"):
        detect_placement(env, launcher="slurm")


@pytest.mark.parametrize(
    ("nodelist", "host"),
    [("node1", "node1"), ("gpu[003-005,9],cpu1", "gpu003"), ("a[7],b[1-2]", "a7"), ("x,y", "x")],
)
def test_first_host_of_a_node_list(nodelist, host):
    assert first_host(nodelist) == host


def test_pbs_with_pals_and_open_mpi(tmp_path):
    nodefile = tmp_path / "nodes"
    nodefile.write_text("x3001c0s1b0n0\nx3001c0s1b0n0\nx3001c0s2b0n0\n")
    env = {
        "PBS_JOBID": "123.polaris",
        "PBS_NODEFILE": str(nodefile),
        "PMI_RANK": "6",
        "PMI_SIZE": "8",
        "PMI_LOCAL_RANK": "2",
    }
    place = detect_placement(env)
    assert (place.launcher, place.rank, place.world_size, place.local_rank) == ("pbs", 6, 8, 2)
    assert place.master_addr == "x3001c0s1b0n0"
    ompi = {
        "PBS_JOBID": "7",
        "PBS_NODEFILE": str(nodefile),
        "OMPI_COMM_WORLD_RANK": "1",
        "OMPI_COMM_WORLD_SIZE": "2",
        "OMPI_COMM_WORLD_LOCAL_RANK": "1",
    }
    assert detect_placement(ompi).rank == 1
    # a PBS job without an MPI launcher is one process
    assert detect_placement({"PBS_JOBID": "7", "PBS_NODEFILE": str(nodefile)}).launcher == "none"


def test_bad_values_name_the_variable():
    with pytest.raises(ValueError, match="SLURM_PROCID"):
        detect_placement({**SLURM, "SLURM_PROCID": "x"})
    with pytest.raises(ValueError, match="out of range"):
        detect_placement({**SLURM, "SLURM_PROCID": "8"})
    with pytest.raises(ValueError, match="unknown launcher"):
        detect_placement({}, launcher="lsf")
    assert detect_placement(SLURM, launcher="none").world_size == 1


_WORKER = """
import torch
from mmh_train._distributed import all_reduce_sum, init_distributed
ctx = init_distributed("cpu")
out = all_reduce_sum(torch.tensor([float(ctx.rank + 1)]), ctx)
print(ctx.launcher, ctx.rank, ctx.world_size, float(out))
"""


@pytest.mark.parametrize("launcher", ["slurm", "pbs"])
def test_two_processes_join_one_group(tmp_path, launcher):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nodefile = tmp_path / "nodes"
    nodefile.write_text("127.0.0.1\n")
    base = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    base.update(MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    procs = []
    for rank in range(2):
        if launcher == "slurm":
            extra = {
                "SLURM_JOB_ID": "1",
                "SLURM_PROCID": str(rank),
                "SLURM_LOCALID": str(rank),
                "SLURM_STEP_NUM_TASKS": "2",
                "SLURM_STEP_NODELIST": "127.0.0.1",
            }
        else:
            extra = {
                "PBS_JOBID": "1.server",
                "PBS_NODEFILE": str(nodefile),
                "PMI_RANK": str(rank),
                "PMI_SIZE": "2",
                "PMI_LOCAL_RANK": str(rank),
            }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _WORKER],
                env={**base, **extra},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
    lines = sorted(out.split() for out, _ in outputs)
    assert lines == [[launcher, "0", "2", "3.0"], [launcher, "1", "2", "3.0"]]
