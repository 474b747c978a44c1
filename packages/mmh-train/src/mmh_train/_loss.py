"""The training loss of the paper (Eq. 26): weighted Huber losses on per-atom energy, forces
and stress, with a force Huber delta that shrinks with the reference force magnitude."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from mmh_data import LABELS, Batch

__all__ = [
    "FORCE_DELTA_FACTORS",
    "FORCE_DELTA_THRESHOLDS",
    "STRUCTURE_LOSSES",
    "LossTerms",
    "LossWeights",
    "conditional_huber",
    "huber",
    "weighted_loss_terms",
]

#: Reference force magnitudes (eV/Å) at which the force Huber delta shrinks ...
FORCE_DELTA_THRESHOLDS = (100.0, 200.0, 300.0)
#: ... and the factor applied to the delta below the first threshold, between the
#: thresholds and above the last one.
FORCE_DELTA_FACTORS = (1.0, 0.7, 0.4, 0.1)


def huber(residual: torch.Tensor, delta: float | torch.Tensor) -> torch.Tensor:
    """Element-wise Huber loss of a residual: ``r²/2`` for ``|r| ≤ δ``, else ``δ(|r| − δ/2)``.

    Same convention as `torch.nn.functional.huber_loss` with ``reduction="none"``; the
    delta may be a tensor broadcastable to the residual.
    """
    abs_r = residual.abs()
    return torch.where(abs_r <= delta, 0.5 * residual * residual, delta * (abs_r - 0.5 * delta))


def conditional_huber(
    residual: torch.Tensor,
    reference: torch.Tensor,
    delta: float,
    thresholds: Sequence[float] = FORCE_DELTA_THRESHOLDS,
    factors: Sequence[float] = FORCE_DELTA_FACTORS,
) -> torch.Tensor:
    """Huber loss of force residuals ``[N, 3]`` with a per-atom delta.

    The delta of atom ``i`` is ``delta * factor(|F_ref,i|)``: the factors step down at each
    threshold (default 1.0 below 100 eV/Å, 0.7 below 200, 0.4 below 300 and 0.1 above), so
    very large reference forces are fitted in the linear (robust) regime.

    Returns:
        ``[N, 3]`` element-wise losses.
    """
    if len(factors) != len(thresholds) + 1:
        raise ValueError("need one more factor than thresholds")
    magnitude = torch.linalg.vector_norm(reference, dim=-1)
    edges = torch.as_tensor(thresholds, dtype=magnitude.dtype, device=magnitude.device)
    level = torch.bucketize(magnitude, edges, right=True)
    scale = torch.as_tensor(factors, dtype=residual.dtype, device=residual.device)[level]
    return huber(residual, (delta * scale)[:, None])


@dataclass(frozen=True)
class LossWeights:
    """Weights and Huber deltas of the loss (paper defaults: 1, 10, 10 and 0.01).

    Attributes:
        energy: ``λ_E``, weight of the per-atom energy term.
        forces: ``λ_F``, weight of the force term.
        stress: ``λ_σ``, weight of the stress term.
        energy_delta: Huber delta of the per-atom energy, eV/atom.
        forces_delta: Huber delta of the force components, eV/Å (before the conditional
            factor).
        stress_delta: Huber delta of the stress components, eV/Å³.
        conditional_forces: Shrink the force delta with the reference force magnitude.
    """

    energy: float = 1.0
    forces: float = 10.0
    stress: float = 10.0
    energy_delta: float = 0.01
    forces_delta: float = 0.01
    stress_delta: float = 0.01
    conditional_forces: bool = True


@dataclass
class LossTerms:
    """Unnormalised sums of one (local) batch and the counts that normalise them.

    The loss is ``Σ_p λ_p · sums[p] / counts[p]``: the sums are over structures of their
    weighted per-structure losses, the counts are the number of structures that carry the
    label. Keeping them apart lets data-parallel training normalise with *global* counts.
    """

    sums: dict[str, torch.Tensor]
    counts: dict[str, torch.Tensor]

    def total(self, weights: LossWeights, counts: dict[str, torch.Tensor] | None = None):
        """``Σ_p λ_p · sums[p] / counts[p]`` (``counts`` default: this batch's)."""
        counts = self.counts if counts is None else counts
        total = None
        for name, value in self.sums.items():
            term = getattr(weights, name) * value / counts[name].clamp(min=1)
            total = term if total is None else total + term
        return total


def weighted_loss_terms(
    batch: Batch,
    output: dict[str, torch.Tensor],
    weights: LossWeights,
    head_weights: torch.Tensor | None = None,
) -> LossTerms:
    """Per-property loss sums of a batch (paper Eq. 26 before normalisation).

    Each structure ``b`` contributes ``w_b · w_head(b) · w_p,b · ℓ_p,b`` to property ``p``,
    where ``w_b`` is the config weight, ``w_head`` the head weight, ``w_p,b`` the property
    weight (0 when the label is missing) and ``ℓ_p,b`` the structure's loss:

    * energy: ``Huber(Ê/N − E/N)``;
    * forces: the mean over the ``3N`` components of the (conditional) Huber loss;
    * stress: the mean over the 9 components of the Huber loss.

    All weights multiply the structure's loss (they are not inside the Huber function), so a
    weight of 0 removes a structure exactly and the loss is linear in every weight. The
    counts are the numbers of structures whose property weight is non-zero, so the loss
    does not depend on which other structures happen to share the batch.

    Args:
        batch: The batch with labels and weights.
        output: The model's ``energy``, ``forces`` and ``stress``; ``forces`` or ``stress``
            may be left out when no structure of the batch carries that label.
        weights: Loss weights and deltas.
        head_weights: ``[H]`` weight per head (default 1).

    Returns:
        The sums and counts, with one entry for every property whose ``λ`` is non-zero
        (so that processes of a data-parallel run always reduce the same entries).
    """
    graph_w = batch.weight
    if head_weights is not None:
        if bool((batch.head < 0).any()):
            raise ValueError(
                "the batch's graphs carry head names only; resolve them to the model's heads "
                "first (MultiHeadMACE.resolve_heads)"
            )
        graph_w = graph_w * head_weights.to(graph_w.dtype)[batch.head]
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, torch.Tensor] = {}
    for field in LABELS:
        name = field.name
        if not getattr(weights, name):
            continue
        label_w = getattr(batch, field.weight_name)
        counts[name] = (label_w != 0).sum().to(batch.dtype)
        if name in output:
            per_graph = STRUCTURE_LOSSES[name](batch, output[name], weights)
            sums[name] = (graph_w * label_w * per_graph).sum()
        else:
            _require_unlabelled(counts[name], name)
            sums[name] = torch.zeros((), dtype=batch.dtype, device=batch.device)
    return LossTerms(sums, counts)


def _energy_loss(batch: Batch, energy: torch.Tensor, weights: LossWeights) -> torch.Tensor:
    """``[G]`` Huber loss of the per-atom energy."""
    n = batch.num_atoms.to(batch.dtype)
    return huber((energy - batch.energy) / n, weights.energy_delta)


def _forces_loss(batch: Batch, forces: torch.Tensor, weights: LossWeights) -> torch.Tensor:
    """``[G]`` mean over each structure's 3N force components of the (conditional) Huber
    loss."""
    r = forces - batch.forces
    if weights.conditional_forces:
        per_comp = conditional_huber(r, batch.forces, weights.forces_delta)
    else:
        per_comp = huber(r, weights.forces_delta)
    n = batch.num_atoms.to(batch.dtype)
    return torch.zeros_like(n).index_add(0, batch.batch, per_comp.sum(dim=1)) / (3 * n)


def _stress_loss(batch: Batch, stress: torch.Tensor, weights: LossWeights) -> torch.Tensor:
    """``[G]`` mean over the 9 stress components of the Huber loss."""
    return huber(stress - batch.stress, weights.stress_delta).sum(dim=(1, 2)) / 9


#: The per-structure loss of each label of the field table ``mmh_data.LABELS``:
#: ``loss(batch, prediction, weights) -> [G]``.
STRUCTURE_LOSSES = {"energy": _energy_loss, "forces": _forces_loss, "stress": _stress_loss}


def _require_unlabelled(count: torch.Tensor, name: str) -> None:
    if float(count) > 0:
        raise ValueError(f"the batch has {name} labels but the model output has no {name!r}")
