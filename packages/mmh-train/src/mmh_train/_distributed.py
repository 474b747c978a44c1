"""Process groups for ``torchrun``, SLURM and PBS: set-up from the environment and small
reductions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from ._launchers import detect_placement

__all__ = ["DistributedContext", "all_reduce_sum", "init_distributed"]


@dataclass(frozen=True)
class DistributedContext:
    """Rank, world size and device of this process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    launcher: str = "none"

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1


def init_distributed(device: str = "auto", launcher: str = "auto") -> DistributedContext:
    """Join the process group that the job's launcher describes in the environment.

    The launcher is torchrun, SLURM (one task per GPU started by ``srun``) or PBS (ranks
    set by ``mpiexec``); see [`detect_placement`][mmh_train.detect_placement] for the variables
    read. One process (no launcher, or a world of one) creates no group. The backend is NCCL on GPUs
    and gloo on the CPU. Under SLURM and PBS, rank 0's host is the first of the job's nodes and the
    port is ``MASTER_PORT`` or derived from the job id; torchrun uses its own rendezvous
    (``--rdzv-backend c10d --rdzv-endpoint host:port`` on several nodes).

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
        launcher: ``"auto"``, ``"torchrun"``, ``"slurm"``, ``"pbs"`` or ``"none"``.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    place = detect_placement(launcher=launcher)
    world_size, rank, local_rank = place.world_size, place.rank, place.local_rank
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' asked for but CUDA is not available")
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        if place.launcher != "torchrun":
            # the env:// rendezvous reads these; torchrun has set them already
            os.environ.setdefault("MASTER_ADDR", str(place.master_addr))
            os.environ.setdefault("MASTER_PORT", str(place.master_port))
        dist.init_process_group(
            backend="nccl" if device == "cuda" else "gloo", rank=rank, world_size=world_size
        )
    return DistributedContext(rank, world_size, local_rank, dev, place.launcher)


def all_reduce_sum(tensor: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """Sum of ``tensor`` over all processes (a copy; the input is left alone)."""
    if not ctx.distributed:
        return tensor.clone()
    out = tensor.detach().clone()
    if ctx.device.type == "cuda":
        out = out.to(ctx.device)
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(tensor.device)
