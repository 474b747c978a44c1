"""Metrics logs of a run: JSON lines, CSV, TensorBoard and learning-curve plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

__all__ = ["RunLog", "plot_learning_curves", "read_log"]


class RunLog:
    """Appends records to ``metrics.jsonl`` and ``metrics.csv`` (and TensorBoard events).

    Each record has a ``kind`` (``"train"``, ``"valid"``, ``"test"``...), a ``step`` and
    an ``epoch``. On resume, records after the checkpoint's step are dropped first so the
    log reads as if the run had never stopped.

    Args:
        directory: The run directory.
        tensorboard: Also write TensorBoard events (needs the ``tensorboard`` package;
            silently skipped when it is not installed).
        resume_step: Keep only records with ``step <= resume_step`` (``None``: new log).
    """

    def __init__(
        self, directory: str | Path, *, tensorboard: bool = True, resume_step: int | None = None
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
            except ImportError:
                self._writer = None
            else:
                self._writer = SummaryWriter(
                    str(self.directory / "tensorboard"), purge_step=resume_step
                )

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
        if self._writer is not None:
            tag = record.get("kind", "log")
            if record.get("head"):
                tag = f"{tag}/{record['head']}"
            for key, value in record.items():
                if key in ("step", "epoch") or not isinstance(value, (int, float)):
                    continue
                self._writer.add_scalar(f"{tag}/{key}", value, record.get("step", 0))

    def close(self) -> None:
        """Flush TensorBoard events."""
        if self._writer is not None:
            self._writer.close()


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
    head against the step, into one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_log(log_path)
    train = [r for r in records if r.get("kind") == "train"]
    valid = [r for r in records if r.get("kind") == "valid"]
    heads = sorted({r["head"] for r in valid if "head" in r})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
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
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    for ax, key, label in (
        (axes[1], "energy_rmse", "valid energy RMSE [meV/atom]"),
        (axes[2], "forces_rmse", "valid force RMSE [meV/Å]"),
    ):
        for head in heads:
            rows = [r for r in valid if r.get("head") == head and key in r]
            if rows:
                ax.plot([r["step"] for r in rows], [r[key] for r in rows], "-o", ms=3, label=head)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        if heads:
            ax.legend()
    fig.tight_layout()
    out_path = Path(out_path)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
