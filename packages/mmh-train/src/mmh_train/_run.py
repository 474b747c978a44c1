"""Running a recipe end to end: set-up, training, evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from ._config import TrainConfig
from ._distributed import init_distributed
from ._setup import prepare
from ._trainer import Trainer

__all__ = ["finetune", "pretrain", "run_recipe"]


def run_recipe(config: TrainConfig, recipe: str, *, resume: bool = False) -> dict[str, Any]:
    """Prepare and train; under ``torchrun`` every process calls this.

    Args:
        config: The run's configuration.
        recipe: ``"pretrain"`` or ``"finetune"``.
        resume: Continue from the checkpoint in ``config.output``.

    Returns:
        The final results (per-head metrics on train/valid/test, best step...).
    """
    ctx = init_distributed(config.device)
    if config.training.num_threads is not None:
        # before the set-up, which predicts with the model (E0s, pseudo-labels)
        torch.set_num_threads(config.training.num_threads)
    setup = prepare(config, recipe)
    trainer = Trainer(config, setup, ctx)
    if ctx.is_main:
        out = Path(config.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(
            f"# mmh-train {recipe}\n" + yaml.safe_dump(config.to_dict(), sort_keys=False)
        )
    return trainer.fit(resume=resume)


def pretrain(config: TrainConfig, *, resume: bool = False) -> dict[str, Any]:
    """Pre-train: one head per entry of ``config.heads`` (bundled ``bulk`` by default)."""
    return run_recipe(config, "pretrain", resume=resume)


def finetune(config: TrainConfig, *, resume: bool = False) -> dict[str, Any]:
    """Fine-tune a pre-trained model (multi-head replay or naive, ``config.finetune``)."""
    return run_recipe(config, "finetune", resume=resume)
