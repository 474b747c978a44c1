"""Evaluating a model head by head: loss and error metrics, across processes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from mmh_data import AtomicGraph, ErrorAccumulator, collate
from mmh_heads import MultiHeadMACE

from ._distributed import DistributedContext, all_reduce_sum
from ._loss import LossWeights, weighted_loss_terms
from ._steps import split_by_size

__all__ = ["evaluate_heads", "model_output"]

_PROPS = ("energy", "forces", "stress")


def model_output(model: torch.nn.Module, batch, *, training: bool) -> dict[str, torch.Tensor]:
    """Energy, forces and, when the batch has stress labels, stress of a batch."""
    stress = bool((batch.stress_weight != 0).any())
    with torch.enable_grad():
        return model(batch, compute_forces=True, compute_stress=stress, create_graph=training)


def evaluate_heads(
    model: MultiHeadMACE,
    graphs: Mapping[str, Sequence[AtomicGraph]],
    *,
    loss_weights: LossWeights,
    head_weights: torch.Tensor | None = None,
    batch_size: int = 20,
    ctx: DistributedContext | None = None,
    max_atoms: int | None = None,
    max_edges: int | None = None,
) -> dict[str, dict[str, float]]:
    """Loss and errors of each head on its own structures.

    Under data parallelism every process evaluates every ``world_size``-th structure and
    the sums are reduced, so all processes return the same figures.

    Args:
        model: The model (not wrapped).
        graphs: Graphs per head name (their ``head`` index must point at that head).
        loss_weights: Weights of the loss.
        head_weights: ``[H]`` head weights of the loss.
        batch_size: Structures per forward pass.
        ctx: Distributed context (default: one process).
        max_atoms: At most this many atoms per forward pass (as ``training.max_atoms``; a
            larger structure is evaluated alone).
        max_edges: At most this many edges per forward pass.

    Returns:
        ``{head: {"loss": ..., "energy_mae": ..., ...}}`` (metrics as in
        [`ErrorAccumulator`][mmh_data.ErrorAccumulator]); heads without structures are left out.
    """
    ctx = ctx or DistributedContext()
    device, dtype = model.e0.device, model.dtype
    out: dict[str, dict[str, float]] = {}
    for head, items in graphs.items():
        if len(items) == 0:
            continue
        local = list(items)[ctx.rank :: ctx.world_size]
        acc = ErrorAccumulator()
        sums = torch.zeros(len(_PROPS), dtype=torch.float64)
        counts = torch.zeros(len(_PROPS), dtype=torch.float64)
        groups = [
            group
            for start in range(0, len(local), batch_size)
            for group in split_by_size(
                local[start : start + batch_size],
                max_atoms=max_atoms,
                max_edges=max_edges,
                oversize="alone",
            )[0]
        ]
        for group in groups:
            batch = collate(group, dtype=dtype).to(device)
            output = model_output(model, batch, training=False)
            output = {k: v.detach() for k, v in output.items()}
            acc.update(batch, output)
            terms = weighted_loss_terms(batch, output, loss_weights, head_weights)
            for k, p in enumerate(_PROPS):
                if p in terms.sums:
                    sums[k] += float(terms.sums[p])
                    counts[k] += float(terms.counts[p])
        reduced = all_reduce_sum(torch.cat([acc.tensor().reshape(-1), sums, counts]), ctx)
        acc.sums = reduced[: acc.sums.numel()].reshape(acc.sums.shape)
        sums = reduced[acc.sums.numel() : acc.sums.numel() + len(_PROPS)]
        counts = reduced[acc.sums.numel() + len(_PROPS) :]
        lam = (loss_weights.energy, loss_weights.forces, loss_weights.stress)
        loss = sum(
            lam[k] * float(sums[k]) / float(counts[k]) for k in range(3) if float(counts[k]) > 0
        )
        out[head] = {"loss": loss, "count": len(items), **acc.metrics()}
    return out
