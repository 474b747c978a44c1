"""The human-readable log of a run, ``train.log``, written through `logging`.

It says what the run decided (E0s, statistics, replay selection, frozen groups), one line
per epoch, warnings (a logging sink that cannot be used) and the final errors: the file an
HPC user tails. Everything goes to the ``mmh_train`` logger, so an application's own
logging configuration sees the same lines.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from ase.data import chemical_symbols

__all__ = ["LOGGER_NAME", "TRAIN_LOG_NAME", "log_replay", "log_setup", "train_log"]

#: Name of the logger every line of ``train.log`` goes through.
LOGGER_NAME = "mmh_train"
#: File name of the text log in the run directory.
TRAIN_LOG_NAME = "train.log"

_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
_DATE = "%Y-%m-%d %H:%M:%S"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


@contextmanager
def train_log(
    directory: str | Path, *, recipe: str, resume: bool = False, enabled: bool = True
) -> Iterator[logging.Logger]:
    """Write the ``mmh_train`` logger's INFO lines to ``directory/train.log`` while inside.

    A new run starts the file afresh; a resumed run appends to it. An exception that ends
    the run is written to the log before it propagates.

    Args:
        directory: The run directory (created if needed).
        recipe: ``"pretrain"`` or ``"finetune"``, for the first line.
        resume: Append instead of starting a new file.
        enabled: ``False`` (processes other than the main one) attaches no file.

    Yields:
        The ``mmh_train`` logger.
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not enabled:
        yield logger
        return
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(directory / TRAIN_LOG_NAME, mode="a" if resume else "w")
    handler.setFormatter(logging.Formatter(_FORMAT, _DATE))
    handler.setLevel(logging.INFO)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info(
            "mmh-train %s %s in %s (mmh-train %s, torch %s, python %s)",
            recipe,
            "resumed" if resume else "started",
            directory,
            _version("mmh-train"),
            _version("torch"),
            platform.python_version(),
        )
        yield logger
    except BaseException as err:
        logger.error("run failed: %s: %s", type(err).__name__, " ".join(str(err).split()))
        raise
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous)


def _e0_text(e0s: Mapping[int, float]) -> str:
    return ", ".join(f"{chemical_symbols[z]} {e:.6g}" for z, e in e0s.items())


def _compact(value: Any) -> str:
    return json.dumps(value, default=str, separators=(", ", ": "))


def log_setup(logger: logging.Logger, model, summary: Mapping[str, Any]) -> None:
    """Log what the set-up decided: every entry of the set-up summary (E0 methods, replay
    selection, frozen groups...), then per head its E0s, scale and shift, and the
    backbone's element table and average neighbour count."""
    for key, value in summary.items():
        logger.info("setup: %s = %s", key, _compact(value))
    backbone = model.backbone.config
    logger.info(
        "model: elements %s, r_max %.4g Å, avg_num_neighbors %.6g, %d parameters",
        [chemical_symbols[z] for z in model.elements],
        backbone.r_max,
        backbone.avg_num_neighbors,
        sum(p.numel() for p in model.parameters()),
    )
    for k, head in enumerate(model.heads):
        logger.info(
            "head %s: scale %.6g, shift %.6g eV/atom; E0s [eV] %s",
            head,
            float(model.scale[k]),
            float(model.shift[k]),
            _e0_text(model.head_e0s(head)),
        )
        meta = model.head_meta.get(head)
        if meta:
            logger.info("head %s: metadata %s", head, _compact(meta.to_dict()))


def log_replay(logger: logging.Logger, config, summary: Mapping[str, Any]) -> None:
    """Log the replay selection of a fine-tuning run (nothing for other runs)."""
    ft = getattr(config, "finetune", None)
    if ft is None or ft.replay is None or "replay_size" not in summary:
        return
    replay = ft.replay
    logger.info(
        "replay: %s of %s pool structures selected (%s, element filter %s), %.3g of every "
        "batch, config weight %.3g, %s labels",
        summary["replay_size"],
        summary.get("replay_pool", "?"),
        replay.method,
        replay.filter,
        replay.batch_share,
        replay.weight,
        replay.labels,
    )
