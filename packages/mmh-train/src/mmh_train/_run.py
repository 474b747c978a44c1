"""Running a recipe end to end: set-up, training, evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from ._config import TrainConfig
from ._distributed import init_distributed
from ._setup import prepare
from ._textlog import log_replay, log_setup, train_log
from ._trainer import Trainer

__all__ = ["finetune", "pretrain", "run_recipe"]


def run_recipe(config: TrainConfig, recipe: str, *, resume: bool = False) -> dict[str, Any]:
    """Prepare and train; under ``torchrun`` every process calls this.

    Args:
        config: The run's configuration.
        recipe: ``"pretrain"`` or ``"finetune"``.
        resume: Continue from the checkpoint in ``config.output``.

    The main process writes ``train.log`` in the output directory: what the set-up
    decided, one line per epoch, warnings and the final errors.

    Returns:
        The final results (per-head metrics on train/valid/test, best step...).
    """
    ctx = init_distributed(config.device)
    if config.training.num_threads is not None:
        # before the set-up, which predicts with the model (E0s, pseudo-labels)
        torch.set_num_threads(config.training.num_threads)
    out = Path(config.output)
    with train_log(out, recipe=recipe, resume=resume, enabled=ctx.is_main) as logger:
        setup = prepare(config, recipe)
        apply_head_meta(config, setup.model)
        if ctx.is_main:
            log_setup(logger, setup.model, setup.summary)
            log_replay(logger, config, setup.summary)
        trainer = Trainer(config, setup, ctx)
        if ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.yaml").write_text(
                f"# mmh-train {recipe}\n" + yaml.safe_dump(config.to_dict(), sort_keys=False)
            )
        return trainer.fit(resume=resume)


def apply_head_meta(config: TrainConfig, model) -> None:
    """Give each head listed under ``heads`` with a ``meta`` section that metadata (it is
    written to the model file); other heads keep what the input model had."""
    for name, head in config.heads.items():
        if head.meta is not None and name in model.heads:
            model.set_head_meta(name, head.meta)


def pretrain(config: TrainConfig, *, resume: bool = False) -> dict[str, Any]:
    """Pre-train: one head per entry of ``config.heads`` (bundled ``bulk`` by default)."""
    return run_recipe(config, "pretrain", resume=resume)


def finetune(config: TrainConfig, *, resume: bool = False) -> dict[str, Any]:
    """Fine-tune a pre-trained model (multi-head replay or naive, ``config.finetune``)."""
    return run_recipe(config, "finetune", resume=resume)
