"""Metrics logs of a run: JSON lines, CSV, TensorBoard, W&B and learning-curve plots."""

from __future__ import annotations

import csv
import json
import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LoggingSinkWarning", "RunLog", "plot_learning_curves", "read_log"]

_LOG = logging.getLogger("mmh_train")
#: file of the run directory that keeps the W&B run id, so a resumed run continues it
WANDB_ID_NAME = "wandb-run.json"


class LoggingSinkWarning(UserWarning):
    """A logging sink that was asked for (TensorBoard, W&B) cannot be used."""


def _sink_unavailable(message: str) -> None:
    _LOG.warning(message)
    warnings.warn(message, LoggingSinkWarning, stacklevel=3)


class RunLog:
    """Appends records to ``metrics.jsonl`` and ``metrics.csv`` (and TensorBoard events).

    Each record has a ``kind`` (``"train"``, ``"valid"``, ``"test"``...), a ``step`` and
    an ``epoch``. On resume, records after the checkpoint's step are dropped first so the
    log reads as if the run had never stopped.

    Args:
        directory: The run directory.
        tensorboard: Also write TensorBoard events (needs the ``tensorboard`` package;
            without it a [`LoggingSinkWarning`][mmh_train.LoggingSinkWarning] says so and the run
            goes on).
        resume_step: Keep only records with ``step <= resume_step`` (``None``: new log).
        wandb: Also send the records to a W&B run: the keyword arguments of
            ``wandb.init`` (``project``, ``name``, ``entity``, ``mode``, ``tags``;
            see [`mmh_train.WandbConfig`][]). Without the ``wandb`` package, or when
            the run cannot start, a [`LoggingSinkWarning`][mmh_train.LoggingSinkWarning] says so and
            the run goes on. The run id is kept in ``wandb-run.json``, so a resumed run continues
            it.
        run_config: The run's configuration, given to W&B as the run's config.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        tensorboard: bool = True,
        resume_step: int | None = None,
        wandb: Mapping[str, Any] | None = None,
        run_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.directory / "metrics.jsonl"
        self.csv = self.directory / "metrics.csv"
        records = read_log(self.jsonl) if resume_step is not None else []
        records = [r for r in records if r.get("step", 0) <= (resume_step or 0)]
        self._fields: list[str] = []
        with open(self.jsonl, "w") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
        self._rewrite_csv(records)
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:
                _sink_unavailable(
                    f"logging.tensorboard is on, but TensorBoard cannot be used ({err}); "
                    "install it with pip install 'mmh-train[tensorboard]' or set "
                    "logging.tensorboard: false. Metrics still go to metrics.jsonl and "
                    "metrics.csv"
                )
            else:
                self._writer = SummaryWriter(
                    str(self.directory / "tensorboard"), purge_step=resume_step
                )
        self._wandb = None
        if wandb is not None:
            self._wandb = self._start_wandb(dict(wandb), run_config, resume_step is not None)

    def _start_wandb(self, options: dict[str, Any], run_config, resume: bool):
        try:
            import wandb
        except ImportError as err:
            _sink_unavailable(
                f"logging.wandb is set, but W&B cannot be used ({err}); install it with "
                "pip install 'mmh-train[wandb]' or remove logging.wandb. Metrics still go "
                "to metrics.jsonl and metrics.csv"
            )
            return None
        id_file = self.directory / WANDB_ID_NAME
        run_id = None
        if resume and id_file.is_file():
            run_id = json.loads(id_file.read_text()).get("id")
        options = {k: v for k, v in options.items() if v not in (None, [], ())}
        try:
            run = wandb.init(
                dir=str(self.directory),
                config=dict(run_config or {}),
                id=run_id,
                resume="allow" if run_id else None,
                **options,
            )
        except Exception as err:  # wandb raises its own errors (login, network, ...)
            _sink_unavailable(
                f"logging.wandb: the W&B run could not start ({type(err).__name__}: {err}); "
                "the run goes on without it"
            )
            return None
        if getattr(run, "id", None):
            id_file.write_text(json.dumps({"id": run.id, "project": options.get("project")}))
        _LOG.info("W&B run %s (mode %s)", getattr(run, "id", "?"), options.get("mode", "default"))
        return run

    def _rewrite_csv(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            for k in r:
                if k not in self._fields:
                    self._fields.append(k)
        with open(self.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self._fields)
            writer.writeheader()
            writer.writerows(records)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        with open(self.jsonl, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if any(k not in self._fields for k in record):
            self._rewrite_csv(read_log(self.jsonl))
        else:
            with open(self.csv, "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=self._fields).writerow(record)
        if self._writer is None and self._wandb is None:
            return
        tag = record.get("kind", "log")
        if record.get("head"):
            tag = f"{tag}/{record['head']}"
        if record.get("split"):
            tag = f"{tag}/{record['split']}"
        scalars = {
            f"{tag}/{key}": value
            for key, value in record.items()
            if key not in ("step", "epoch")
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        }
        step = int(record.get("step", 0))
        if self._writer is not None:
            for key, value in scalars.items():
                self._writer.add_scalar(key, value, step)
        if self._wandb is not None and scalars:
            self._wandb.log(scalars, step=step)

    def close(self) -> None:
        """Flush TensorBoard events and finish the W&B run."""
        if self._writer is not None:
            self._writer.close()
        if self._wandb is not None:
            self._wandb.finish()
            self._wandb = None


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file (a truncated last line is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def plot_learning_curves(log_path: str | Path, out_path: str | Path) -> Path:
    """Draw the training loss, the validation loss per head and the validation errors per
    head against the step, into one PNG.

    The error panels (energy RMSE, force RMSE) are drawn only for errors the log has: a
    run without validation gets one panel, the losses, and no empty ones.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_log(log_path)
    train = [r for r in records if r.get("kind") == "train"]
    valid = [r for r in records if r.get("kind") == "valid"]
    heads = sorted({r["head"] for r in valid if "head" in r})
    panels = [
        (key, label)
        for key, label in (
            ("energy_rmse", "valid energy RMSE [meV/atom]"),
            ("forces_rmse", "valid force RMSE [meV/Å]"),
        )
        if any(r.get(key) is not None for r in valid)
    ]
    fig, axes = plt.subplots(1, 1 + len(panels), figsize=(5 * (1 + len(panels)), 4.2))
    axes = list(axes) if panels else [axes]
    ax = axes[0]
    if train:
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], lw=0.8, label="train")
    combined = [r for r in records if r.get("kind") == "valid_combined"]
    if combined:
        ax.plot(
            [r["step"] for r in combined],
            [r["loss"] for r in combined],
            "k-o",
            ms=3,
            label="valid (combined)",
        )
    if train or combined:
        ax.set_yscale("log")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no training records", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if not panels:
        ax.set_title("training loss (no validation in this run)", fontsize=10)
    for ax, (key, label) in zip(axes[1:], panels, strict=True):
        for head in heads:
            rows = [r for r in valid if r.get("head") == head and r.get(key) is not None]
            if rows:
                ax.plot([r["step"] for r in rows], [r[key] for r in rows], "-o", ms=3, label=head)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend()
    fig.tight_layout()
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
