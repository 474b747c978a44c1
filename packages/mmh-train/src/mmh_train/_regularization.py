"""Selective regularisation (SevenNet-Omni): L2 penalties on head-specific parameters.

The shared backbone trains freely; each regularised head ``h`` pays

``R_h = w_h · Σ_{p ∈ params(h)} Σ_i (p_i − p0_i)²``

where ``params(h)`` are the head's own trainable tensors (its readout: the per-head E0s,
scale and shift are buffers, not trained) and ``p0`` is either zero or a snapshot of the
base head's readout taken when fine-tuning starts. The gradient is ``2 w_h (p − p0)``. The
snapshot is part of the training checkpoint, so a resumed run is pulled towards the
pre-trained values and not towards weights that have already moved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from mmh_heads import MultiHeadMACE

__all__ = [
    "HeadPenalty",
    "SelectiveRegularization",
    "head_parameters",
    "regularization_from_config",
]


def head_parameters(model: MultiHeadMACE, head: str) -> dict[str, torch.nn.Parameter]:
    """The trainable tensors that belong to one head only, by name inside the head.

    Args:
        model: The model.
        head: Head name.

    Returns:
        ``{name: parameter}``, e.g. ``{"linear": ..., "mlp_in": ..., "mlp_out": ...}``.

    Raises:
        KeyError: Unknown head (the message lists the model's heads).
    """
    return {name: p for name, p in model.head_parameters(head).items() if p.requires_grad}


@dataclass(frozen=True)
class HeadPenalty:
    """The penalty of one head.

    Attributes:
        head: Head name.
        weight: ``w_h`` (≥ 0).
        target: ``"base"`` (the snapshot of the base head) or ``"zero"``.
    """

    head: str
    weight: float
    target: Literal["base", "zero"]

    def __post_init__(self) -> None:
        if self.target not in ("base", "zero"):
            raise ValueError(f"head {self.head!r}: target must be 'base' or 'zero'")
        if not self.weight >= 0:
            raise ValueError(f"head {self.head!r}: weight must be >= 0, got {self.weight}")


class SelectiveRegularization:
    """The sum of the per-head penalties, ``R = Σ_h R_h`` (see the module docstring).

    Args:
        penalties: One entry per regularised head.
        anchor: The base head's readout snapshot, ``{name: tensor}`` (needed when a
            penalty has target ``"base"``). Use
            [`from_model`][mmh_train.SelectiveRegularization.from_model] to take it.

    Example:
        >>> reg = SelectiveRegularization.from_model(
        ...     model, [HeadPenalty("mol", 1e-3, "base")], base_head="bulk"
        ... )  # doctest: +SKIP
        >>> loss = data_loss + reg.penalty(model)  # doctest: +SKIP
    """

    def __init__(
        self,
        penalties: Sequence[HeadPenalty],
        anchor: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        self.penalties = list(penalties)
        heads = [p.head for p in self.penalties]
        if len(set(heads)) != len(heads):
            raise ValueError(f"a head is regularised twice: {heads}")
        self.anchor = {k: v.detach().clone() for k, v in (anchor or {}).items()}
        if any(p.target == "base" for p in self.penalties) and not self.anchor:
            raise ValueError("target 'base' needs a snapshot of the base head (anchor)")

    @classmethod
    def from_model(
        cls,
        model: MultiHeadMACE,
        penalties: Sequence[HeadPenalty],
        *,
        base_head: str | None = None,
    ) -> SelectiveRegularization:
        """Check the heads against ``model`` and snapshot ``base_head``'s readout now.

        Raises:
            KeyError: A penalty names a head the model does not have.
            ValueError: Target ``"base"`` without ``base_head``, or a head whose readout
                does not have the base readout's shapes.
        """
        for p in penalties:
            model.head_index(p.head)
        anchor = None
        if any(p.target == "base" for p in penalties):
            if base_head is None:
                raise ValueError("target 'base' needs a base head (fine-tuning)")
            anchor = {k: v.detach().clone() for k, v in head_parameters(model, base_head).items()}
        reg = cls(penalties, anchor)
        reg.check(model)
        return reg

    def check(self, model: MultiHeadMACE) -> None:
        """Raise ``ValueError`` if a head's parameters do not match the snapshot's shapes."""
        for p in self.penalties:
            if p.target != "base":
                continue
            params = head_parameters(model, p.head)
            shapes = {k: tuple(v.shape) for k, v in params.items()}
            wanted = {k: tuple(v.shape) for k, v in self.anchor.items()}
            if shapes != wanted:
                raise ValueError(
                    f"head {p.head!r}: readout shapes {shapes} differ from the base head's "
                    f"{wanted}; use target 'zero'"
                )

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None):
        """Move the snapshot (returns ``self``)."""
        self.anchor = {k: v.to(device=device, dtype=dtype) for k, v in self.anchor.items()}
        return self

    def head_penalties(self, model: MultiHeadMACE) -> dict[str, torch.Tensor]:
        """``R_h`` of every regularised head (differentiable scalars)."""
        out = {}
        for p in self.penalties:
            total = None
            for name, param in head_parameters(model, p.head).items():
                diff = param if p.target == "zero" else param - self.anchor[name]
                term = diff.pow(2).sum()
                total = term if total is None else total + term
            if total is None:
                total = torch.zeros((), dtype=model.dtype, device=model.e0.device)
            out[p.head] = p.weight * total
        return out

    def penalty(self, model: MultiHeadMACE) -> torch.Tensor:
        """``R = Σ_h R_h`` (a differentiable scalar; zero when there is no penalty)."""
        terms = list(self.head_penalties(model).values())
        if not terms:
            return torch.zeros((), dtype=model.dtype, device=model.e0.device)
        return torch.stack(terms).sum()

    def describe(self) -> dict[str, dict[str, Any]]:
        """``{head: {"weight": w, "target": t}}`` (for the run log)."""
        return {p.head: {"weight": p.weight, "target": p.target} for p in self.penalties}

    def state_dict(self) -> dict[str, Any]:
        """Penalties and snapshot, for the checkpoint (plain tensors and strings)."""
        return {
            "penalties": json.dumps([asdict(p) for p in self.penalties]),
            "anchor": {k: v.detach().cpu() for k, v in self.anchor.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the snapshot of a checkpoint.

        Raises:
            ValueError: The checkpoint's penalties differ from this run's.
        """
        saved = [HeadPenalty(**p) for p in json.loads(state["penalties"])]
        if saved != self.penalties:
            raise ValueError(
                f"the checkpoint's regularisation {[asdict(p) for p in saved]} differs from "
                f"this run's {[asdict(p) for p in self.penalties]}"
            )
        device = next(iter(self.anchor.values())).device if self.anchor else "cpu"
        dtype = next(iter(self.anchor.values())).dtype if self.anchor else None
        self.anchor = {k: v.to(device=device, dtype=dtype) for k, v in state["anchor"].items()}


def regularization_from_config(
    config, model: MultiHeadMACE, *, recipe: str, base_head: str | None = None
) -> SelectiveRegularization | None:
    """The penalties of ``heads.<name>.regularization`` and ``finetune.regularization``.

    Call it before training starts: a ``"base"`` target snapshots ``base_head``'s readout
    as it is now. In naive fine-tuning call it before the base head is removed.

    Args:
        config: The [`TrainConfig`][mmh_train.TrainConfig].
        model: The model (with every head that a penalty names).
        recipe: ``"pretrain"`` or ``"finetune"`` (sets the default target).
        base_head: The base head (fine-tuning).

    Returns:
        ``None`` when no head has a non-zero weight.

    Raises:
        ConfigError: Target ``"base"`` when pre-training, ``finetune.regularization`` in
            naive mode (the message names the key).
    """
    from ._typed import ConfigError

    entries = [(f"heads.{n}.regularization", n, h.regularization) for n, h in config.heads.items()]
    ft = config.finetune
    if ft is not None and ft.regularization is not None:
        if ft.mode == "naive":
            raise ConfigError(
                "finetune.regularization: naive fine-tuning keeps no base head (it becomes "
                "the new head); regularise that head under heads.<name>.regularization"
            )
        entries.append(("finetune.regularization", base_head, ft.regularization))
    default = "base" if recipe == "finetune" else "zero"
    penalties = []
    for where, head, rc in entries:
        if rc is None or rc.weight == 0:
            continue
        target = rc.target or default
        if target == "base" and recipe != "finetune":
            raise ConfigError(
                f"{where}.target: 'base' needs a pre-trained base head (fine-tuning); "
                "use 'zero' when pre-training"
            )
        penalties.append(HeadPenalty(head, rc.weight, target))
    if not penalties:
        return None
    try:
        return SelectiveRegularization.from_model(model, penalties, base_head=base_head)
    except (KeyError, ValueError) as err:
        raise ConfigError(f"regularization: {err}") from None
