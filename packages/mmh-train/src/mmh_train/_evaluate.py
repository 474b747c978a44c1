"""Evaluating a model head by head: loss and error metrics, across processes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import torch
from mmh_data import LABEL_NAMES, AtomicGraph, Configuration, ErrorAccumulator, collate
from mmh_heads import MultiHeadMACE

from ._distributed import DistributedContext, all_reduce_sum
from ._loss import LossWeights, weighted_loss_terms
from ._steps import split_by_size

__all__ = ["EvaluationGraphs", "evaluate_heads", "model_output"]

_PROPS = LABEL_NAMES


class EvaluationGraphs(Sequence):
    """The graphs of a lazy source of structures, built when they are read, with a model's
    head index: an evaluation set that is never held in memory.

    Args:
        configs: The structures (a lazy [`ConfigurationSource`][mmh_data.ConfigurationSource]).
        build: Builds one graph (a [`GraphBuilder`][mmh_data.GraphBuilder] or a cache).
        head_indices: The model's ``head_indices`` (head names to indices).
    """

    def __init__(
        self,
        configs: Sequence[Configuration],
        build: Callable[[Configuration], AtomicGraph],
        head_indices: Callable[[Sequence[str]], torch.Tensor],
    ) -> None:
        self.configs, self.build, self.head_indices = configs, build, head_indices
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.configs)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        graph = self.build(self.configs[k])
        index = self._index.get(graph.head_name)
        if index is None:
            index = self._index[graph.head_name] = int(self.head_indices([graph.head_name])[0])
        return dataclasses.replace(graph, head=torch.tensor(index, dtype=torch.long))


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
        graphs: Graphs per head name (their ``head`` index must point at that head): lists,
            or [`EvaluationGraphs`][mmh_train.EvaluationGraphs] of a lazy source.
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
        # This process's structures, read (and, for a lazy set, built) one pass at a time.
        local = range(ctx.rank, len(items), ctx.world_size)
        acc = ErrorAccumulator()
        sums = torch.zeros(len(_PROPS), dtype=torch.float64)
        counts = torch.zeros(len(_PROPS), dtype=torch.float64)
        groups = (
            group
            for start in range(0, len(local), batch_size)
            for group in split_by_size(
                [items[k] for k in local[start : start + batch_size]],
                max_atoms=max_atoms,
                max_edges=max_edges,
                oversize="alone",
            )[0]
        )
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
        lam = [getattr(loss_weights, p) for p in _PROPS]
        loss = sum(
            lam[k] * float(sums[k]) / float(counts[k])
            for k in range(len(_PROPS))
            if float(counts[k]) > 0
        )
        out[head] = {"loss": loss, "count": len(items), **acc.metrics()}
    return out
