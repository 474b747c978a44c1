"""Process groups for ``torchrun``: set-up from the environment and small reductions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

__all__ = ["DistributedContext", "all_reduce_sum", "init_distributed"]


@dataclass(frozen=True)
class DistributedContext:
    """Rank, world size and device of this process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the process group that ``torchrun`` describes in the environment.

    Without ``WORLD_SIZE`` (or with ``WORLD_SIZE=1``) this is a single process and no group
    is created. The backend is NCCL on GPUs and gloo on the CPU; multi-node runs use
    torchrun's own rendezvous (``--rdzv-backend c10d --rdzv-endpoint host:port``).

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' asked for but CUDA is not available")
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return DistributedContext(rank, world_size, local_rank, dev)


def all_reduce_sum(tensor: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """Sum of ``tensor`` over all processes (a copy; the input is left alone)."""
    if not ctx.distributed:
        return tensor.clone()
    out = tensor.detach().clone()
    if ctx.device.type == "cuda":
        out = out.to(ctx.device)
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.to(tensor.device)
