"""Exponential moving average of the model's parameters."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage:
    """A copy of a model whose parameters follow the trained ones with an EMA.

    After ``n`` updates the decay is ``min(decay, (1 + n) / (10 + n))``, so early averages
    are not dominated by the random initial weights. Only parameters are averaged; the
    copy's buffers (E0s, scale, shift) are those of the model when the copy was made.

    Args:
        model: The trained model (copied once; later updates read its parameters).
        decay: The EMA decay.
        factory: Builds an empty copy of the model's architecture, into which the model's
            state is loaded (default: ``copy.deepcopy``). A deep copy of a module holding
            ``torch.fx`` graphs (e3nn's compiled tensor products) registers the graphs'
            constants as extra state, so the copy's ``state_dict`` would not load into a
            freshly built model; rebuilding avoids that.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        decay: float,
        factory: Callable[[], torch.nn.Module] | None = None,
    ) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.num_updates = 0
        if factory is None:
            self.module = copy.deepcopy(model)
        else:
            self.module = factory()
            self.module.load_state_dict(model.state_dict())
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the averaged parameters towards ``model``'s."""
        d = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        averaged = list(self.module.parameters())
        current = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(averaged, current, 1.0 - d)
        self.num_updates += 1

    def state_dict(self) -> dict[str, Any]:
        """Decay, number of updates and the averaged parameters."""
        return {
            "decay": self.decay,
            "num_updates": self.num_updates,
            "module": self.module.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore [`state_dict`][mmh_train.ExponentialMovingAverage.state_dict] output."""
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        self.module.load_state_dict(state["module"])
