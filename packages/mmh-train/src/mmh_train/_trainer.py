"""The training loop: one process or many (``torchrun`` DDP), EMA, plateau schedule, early
stopping, atomic checkpoints and exact resume."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from mmh_data import (
    LABEL_NAMES,
    AtomicGraph,
    Configuration,
    DataError,
    GraphBuilder,
    format_metrics,
)
from mmh_heads import MultiHeadMACE, save_model
from mmh_layers import keep_freed_cpu_memory
from torch.nn.parallel import DistributedDataParallel

from ._checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint, save_checkpoint
from ._config import TrainConfig
from ._distributed import DistributedContext, all_reduce_sum
from ._ema import ExponentialMovingAverage
from ._evaluate import EvaluationGraphs, evaluate_heads, model_output
from ._groups import group_lr_factors
from ._log import RunLog, plot_learning_curves
from ._loss import weighted_loss_terms
from ._sampler import MixedBatchPlan
from ._setup import TrainingSetup
from ._steps import GraphCache, StepBatches, StepData, step_loader
from ._typed import ConfigError

__all__ = ["LAST_MODEL_NAME", "MODEL_NAME", "Trainer", "build_graphs", "parameter_groups"]

#: File name of the trained model (EMA weights at the best combined validation loss).
MODEL_NAME = "model.safetensors"
#: File name of the model at the last step.
LAST_MODEL_NAME = "model-last.safetensors"

_LOG = logging.getLogger("mmh_train")


def parameter_groups(
    model: MultiHeadMACE,
    weight_decay: float,
    lr_factors: Mapping[str, float] | None = None,
    *,
    lr: float | None = None,
) -> list[dict[str, Any]]:
    """Adam parameter groups: weight decay on the backbone's linear maps, skip connections
    and product weights (the model's declared ``backbone.decay`` group,
    [`mmh_heads.MultiHeadMACE.parameter_groups`][]); none on embeddings, radial MLPs,
    scalars and readouts.

    Parameters with ``requires_grad`` off (frozen) are left out. With ``lr_factors``
    (named groups, see `mmh_train.group_lr_factors`) every parameter a factor covers goes
    to a group of its own factor, split again by weight decay, so each parameter keeps the
    decay it has without factors. Every group carries its ``lr_factor`` (1 for the
    others), and its ``lr`` (``lr * lr_factor``) when ``lr`` is given.

    Args:
        model: The model.
        weight_decay: Decay of the decayed parameters.
        lr_factors: ``{group: factor}`` (empty or ``None``: the two groups ``decay`` and
            ``no_decay``).
        lr: The base learning rate.

    Raises:
        ConfigError: An unknown group name in ``lr_factors``.
    """
    factors = group_lr_factors(model, lr_factors or {})
    decayed = {id(p) for p in model.parameter_groups()["backbone.decay"]}
    buckets: dict[tuple[bool, str | None], list[torch.nn.Parameter]] = {}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        decay = id(p) in decayed
        label = factors.get(id(p), (None, 1.0))[0]
        buckets.setdefault((decay, label), []).append(p)
    scale = {label: f for label, f in factors.values()}
    labels = [None, *sorted({label for _, label in buckets if label is not None})]
    groups = []
    for label in labels:
        for decay in (True, False):
            params = buckets.get((decay, label))
            if not params:
                continue
            name = "decay" if decay else "no_decay"
            factor = 1.0 if label is None else scale[label]
            group = {
                "params": params,
                "weight_decay": weight_decay if decay else 0.0,
                "name": name if label is None else f"{name}:{label}",
                "lr_factor": factor,
            }
            if lr is not None:
                group["lr"] = lr * factor
            groups.append(group)
    return groups


def build_graphs(configs: Sequence[Configuration], builder: GraphBuilder) -> list[AtomicGraph]:
    """Graphs of all structures (built once: neighbour lists do not change in training)."""
    return [builder(c) for c in configs]


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


class Trainer:
    """Trains a [`mmh_train.TrainingSetup`][] as a [`TrainConfig`][mmh_train.TrainConfig] says.

    One optimiser step per global batch of ``training.batch_size`` structures, drawn by a
    [`MixedBatchPlan`][mmh_train.MixedBatchPlan] (every head at its share; on ``W`` processes each
    takes ``batch_size / W`` of them). A process's part of the step is split into forward passes
    of at most ``training.max_atoms`` atoms and ``training.max_edges`` edges whose
    gradients add up. The loss is normalised by the step's global label counts, so a step
    on ``W`` processes, in any number of passes, equals the step on one in one pass.
    Graphs carry head names and are built once per structure (``training.graph_cache``)
    or on the fly, by ``training.num_workers`` DataLoader workers for the coming steps;
    the train log reports the time spent waiting for data (``data_wait``).
    A selective-regularisation penalty
    (``setup.regularization``) is added once per step: every process computes the same
    value from the same weights and adds ``1/W`` of it, so the summed gradient holds it
    exactly once; it is logged as ``loss_regularization`` and is part of ``loss``, not of
    the validation loss. Validation, the learning-rate schedule,
    early stopping and the saved model use the EMA weights and a validation loss that
    combines all heads with their ``valid_weight``.

    Files in ``config.output``: ``checkpoint.pt`` (every ``checkpoint_every`` steps and at
    every epoch end), ``model.safetensors`` (best), ``model-last.safetensors``,
    ``metrics.jsonl``/``metrics.csv``, ``tensorboard/``, ``learning_curves.png``,
    ``results.json`` and ``config.yaml``.

    Args:
        config: The run's configuration.
        setup: Model and data from [`prepare`][mmh_train.prepare].
        ctx: Process context (default: one process on ``config.device``).
    """

    def __init__(
        self, config: TrainConfig, setup: TrainingSetup, ctx: DistributedContext | None = None
    ) -> None:
        self.config = config
        self.setup = setup
        if ctx is None:
            device = config.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            ctx = DistributedContext(device=torch.device(device))
        self.ctx = ctx
        if ctx.device.type == "cpu":
            keep_freed_cpu_memory()  # no page faults on every step (MMH_CPU_ALLOCATOR=system)
        self.output = Path(config.output)
        tc = config.training
        if tc.num_threads is not None:
            torch.set_num_threads(tc.num_threads)
        if tc.deterministic:
            torch.use_deterministic_algorithms(True)
        self.model: MultiHeadMACE = setup.model.to(ctx.device)
        # where the input model came from (an imported mace model), kept in every saved model
        self._provenance = (
            None
            if setup.model.provenance is None
            else {**setup.model.provenance, "fine_tuned": True}
        )
        heads = self.model.heads
        self.head_weights = torch.tensor(
            [setup.head_weights.get(h, 1.0) for h in heads], dtype=self.model.dtype
        ).to(ctx.device)
        self.loss_weights = config.loss.weights()
        self.regularization = setup.regularization
        if self.regularization is not None:
            self.regularization.to(ctx.device, self.model.dtype)
        builder = GraphBuilder(self.model.backbone.config.r_max, heads=None, dtype=self.model.dtype)
        self.builder = builder
        in_memory = all(isinstance(configs, list) for _, configs in setup.streams)
        cache = tc.graph_cache
        if cache == "auto":
            cache = "memory" if in_memory and tc.num_workers == 0 else "none"
        self.graph_cache = GraphCache(builder) if cache == "memory" else None
        self._graphs = self.graph_cache if self.graph_cache is not None else builder
        self.plan = MixedBatchPlan([s for s, _ in setup.streams], tc.batch_size, seed=config.seed)
        if tc.batch_size % ctx.world_size:
            raise ValueError(
                f"training.batch_size {tc.batch_size} is not a multiple of the "
                f"{ctx.world_size} processes"
            )
        self._check_sizes(setup.streams)
        self.steps = StepBatches(
            self.plan,
            [configs for _, configs in setup.streams],
            self._graphs,
            rank=ctx.rank,
            world_size=ctx.world_size,
            max_atoms=tc.max_atoms,
            max_edges=tc.max_edges,
            oversize=tc.oversize,
            dtype=self.model.dtype,
        )
        self.skipped = 0
        self.valid_graphs = {
            h: self._head_graphs(s.valid) for h, s in setup.splits.items() if s.valid
        }
        self.valid_weights = {h: setup.valid_weights.get(h, 1.0) for h in self.valid_graphs}
        oc = config.optimizer
        groups = parameter_groups(self.model, oc.weight_decay, oc.lr_factors, lr=oc.lr)
        if not groups:
            raise ConfigError("finetune.freeze: every parameter is frozen; nothing would train")
        self.optimizer = torch.optim.Adam(
            groups, lr=oc.lr, betas=tuple(oc.betas), eps=oc.eps, amsgrad=oc.amsgrad
        )
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer,
            factor=oc.scheduler_factor,
            patience=oc.scheduler_patience,
            min_lr=[oc.min_lr * g["lr_factor"] for g in groups],
        )
        self.ema = None
        if oc.ema_decay is not None:
            model = self.model
            self.ema = ExponentialMovingAverage(
                model,
                oc.ema_decay,
                factory=lambda: MultiHeadMACE(model.config, dtype=model.dtype).to(ctx.device),
            )
        self.ddp = self.model
        if ctx.distributed:
            self.ddp = DistributedDataParallel(
                self.model,
                device_ids=[ctx.local_rank] if ctx.device.type == "cuda" else None,
                broadcast_buffers=False,
            )
        self.steps_per_epoch = self.plan.steps_per_epoch
        total = tc.epochs * self.steps_per_epoch
        self.total_steps = min(total, tc.max_steps) if tc.max_steps is not None else total
        self.step = 0
        self.best_loss = math.inf
        self.best_step = -1
        self.bad_evals = 0
        self.stopped = ""

    # ----------------------------------------------------------------- helpers
    @property
    def eval_model(self) -> MultiHeadMACE:
        """The model used for validation and saving (the EMA model if there is one)."""
        return self.ema.module if self.ema is not None else self.model

    @property
    def lr(self) -> float:
        """The base learning rate now (that of the groups with factor 1)."""
        groups = self.optimizer.param_groups
        group = next((g for g in groups if g.get("lr_factor", 1.0) == 1.0), groups[0])
        return group["lr"] / group.get("lr_factor", 1.0)

    def _check_sizes(self, streams) -> None:
        """Before training: no structure held in memory exceeds ``training.max_atoms``
        (unless oversized structures are skipped)."""
        tc = self.config.training
        if tc.max_atoms is None or tc.oversize != "error":
            return
        for _, configs in streams:
            if not isinstance(configs, list):
                continue
            for c in configs:
                if c.num_atoms > tc.max_atoms:
                    raise DataError(
                        f"a structure of {c.num_atoms} atoms exceeds training.max_atoms "
                        f"{tc.max_atoms}; raise it or set training.oversize: skip",
                        file=c.source_file,
                        frame=c.source_index,
                    )

    def _head_graphs(self, configs) -> Sequence[AtomicGraph]:
        """Graphs of structures to evaluate, with this model's head index: built once now
        (from the cache when there is one) for structures held in memory, built when an
        evaluation reads them for a lazy source (memory stays flat)."""
        if not isinstance(configs, list):
            return EvaluationGraphs(configs, self._graphs, self.model.head_indices)
        graphs = [self._graphs(c) for c in configs]
        if not graphs:
            return []
        index = self.model.head_indices([g.head_name for g in graphs])
        return [dataclasses.replace(g, head=k) for g, k in zip(graphs, index, strict=True)]

    def _batch(self, step: int):
        """The forward passes of step ``step`` on this process, on the device."""
        data = self.steps[step]
        return [self._to_device(b) for b in data.batches]

    def _to_device(self, batch):
        return self.model.resolve_heads(batch).to(self.ctx.device)

    def _state(self) -> dict[str, Any]:
        return {
            "format": 1,
            "step": self.step,
            "model": self.model.state_dict(),
            "model_config": json.dumps(self.model.config.to_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "plan": json.dumps(self.plan.state()),
            "best_loss": self.best_loss,
            "best_step": self.best_step,
            "bad_evals": self.bad_evals,
            "stopped": self.stopped,
            "rng": _rng_state(),
            "world_size": self.ctx.world_size,
            "skipped": self.skipped,
            "regularization": (
                self.regularization.state_dict() if self.regularization is not None else None
            ),
        }

    def _save_checkpoint(self) -> None:
        if self.ctx.is_main:
            save_checkpoint(self._state(), self.output / CHECKPOINT_NAME)

    def _save_model(self, model: MultiHeadMACE, name: str) -> None:
        if not self.ctx.is_main:
            return
        final = self.output / name
        tmp = final.with_name(f".{name}.tmp")
        if self._provenance is not None:
            model.provenance = self._provenance
        save_model(model, tmp)
        os.replace(tmp, final)

    def resume(self) -> int:
        """Load ``checkpoint.pt`` of the output directory; returns the step to continue at.

        Raises:
            CheckpointError: No checkpoint, or one from a different set-up (other data,
                batch size, seed or model).
        """
        state = load_checkpoint(self.output / CHECKPOINT_NAME)
        if json.loads(state["plan"]) != json.loads(json.dumps(self.plan.state())):
            raise CheckpointError(
                "the checkpoint was written for different data, batch size or seed; "
                "resume with the configuration of the interrupted run"
            )
        if json.loads(state["model_config"]) != self.model.config.to_dict():
            raise CheckpointError("the checkpoint was written for a different model")
        self.model.load_state_dict(state["model"])
        self._check_optimizer_groups(state["optimizer"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None:
            if state["ema"] is None:
                raise CheckpointError("the checkpoint has no EMA weights but the run uses EMA")
            self.ema.load_state_dict(state["ema"])
        self._resume_regularization(state.get("regularization"))
        torch.set_rng_state(state["rng"]["torch"])
        self.step = int(state["step"])
        self.best_loss = float(state["best_loss"])
        self.best_step = int(state["best_step"])
        self.bad_evals = int(state["bad_evals"])
        self.skipped = int(state.get("skipped", 0))
        if state["stopped"].startswith("early stopping"):
            self.stopped = state["stopped"]
        return self.step

    def _check_optimizer_groups(self, saved: dict[str, Any]) -> None:
        """Raise ``CheckpointError`` unless the checkpoint's optimiser has this run's
        parameter groups (the same frozen parameters and learning-rate factors)."""

        def layout(groups):
            return [(g.get("name"), len(g["params"]), g.get("lr_factor", 1.0)) for g in groups]

        if layout(saved["param_groups"]) != layout(self.optimizer.param_groups):
            raise CheckpointError(
                "the checkpoint was written with other parameter groups (finetune.freeze, "
                "optimizer.lr_factors); resume with the configuration of the interrupted run"
            )

    def _resume_regularization(self, saved: dict[str, Any] | None) -> None:
        """Restore the snapshot of the regularisation targets (never re-taken on resume)."""
        if self.regularization is None:
            if saved is not None:
                raise CheckpointError(
                    "the checkpoint was written with selective regularisation; resume with "
                    "the configuration of the interrupted run"
                )
            return
        if saved is None:
            raise CheckpointError(
                "the checkpoint has no selective regularisation but this run has; resume "
                "with the configuration of the interrupted run"
            )
        try:
            self.regularization.load_state_dict(saved)
        except ValueError as err:
            raise CheckpointError(str(err)) from None

    # ----------------------------------------------------------------- one step
    def train_step(self, step: int, data: StepData | None = None) -> dict[str, float]:
        """One optimiser step on global batch ``step``; returns the global loss parts.

        Args:
            step: The step.
            data: Its batches (default: read and built now).
        """
        self.model.train()
        data = self.steps[step] if data is None else data
        self.skipped += data.skipped
        batches = [self._to_device(b) for b in data.batches]
        if not batches:
            raise DataError(
                f"step {step}: every structure of process {self.ctx.rank} exceeds the batch "
                "bounds (training.max_atoms / max_edges)"
            )
        names = [p for p in LABEL_NAMES if getattr(self.loss_weights, p)]
        local_counts = torch.stack(
            [sum(self._label_count(b, p) for b in batches) for p in names]
        ).to(self.model.dtype)
        counts = all_reduce_sum(local_counts, self.ctx)
        global_counts = dict(zip(names, counts, strict=True))
        penalty = None
        if self.regularization is not None:
            # the same on every process: 1/W of it here, W of them in the summed gradient
            penalty = self.regularization.penalty(self.model) / self.ctx.world_size
        self.optimizer.zero_grad(set_to_none=True)
        loss = torch.zeros((), dtype=self.model.dtype, device=self.ctx.device)
        sums = {p: torch.zeros_like(loss) for p in names}
        for k, batch in enumerate(batches):
            last = k == len(batches) - 1
            # gradients add up over the passes; DDP reduces them once, after the last
            sync = contextlib.nullcontext()
            if self.ctx.distributed and not last:
                sync = self.ddp.no_sync()
            with sync:
                output = model_output(self.ddp, batch, training=True)
                terms = weighted_loss_terms(batch, output, self.loss_weights, self.head_weights)
                part = terms.total(self.loss_weights, global_counts)
                if last and penalty is not None:
                    part = part + penalty
                # DDP averages gradients over processes: scale so that they sum instead
                (part * self.ctx.world_size).backward()
            loss = loss + part.detach()
            for p in names:
                sums[p] = sums[p] + terms.sums[p].detach()
        clip = self.config.optimizer.clip_grad
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        parts = torch.stack([loss] + [sums[p] / global_counts[p].clamp(min=1) for p in names])
        if penalty is not None:
            parts = torch.cat([parts, penalty.detach().reshape(1)])
        parts = all_reduce_sum(parts, self.ctx)
        out = {"loss": float(parts[0])}
        out.update(
            {f"loss_{p}": float(v) for p, v in zip(names, parts[1 : 1 + len(names)], strict=True)}
        )
        if penalty is not None:
            out["loss_regularization"] = float(parts[-1])
        return out

    def _label_count(self, batch, prop: str) -> torch.Tensor:
        """Structures of ``batch`` that carry label ``prop`` (as the loss counts them)."""
        return (getattr(batch, f"{prop}_weight") != 0).sum()

    # ----------------------------------------------------------------- evaluation
    def validate(self) -> tuple[float, dict[str, dict[str, float]]]:
        """Per-head validation results and the combined validation loss."""
        results = evaluate_heads(
            self.eval_model,
            self.valid_graphs,
            loss_weights=self.loss_weights,
            head_weights=self.head_weights,
            batch_size=self.config.training.valid_batch_size,
            ctx=self.ctx,
            max_atoms=self.config.training.max_atoms,
            max_edges=self.config.training.max_edges,
        )
        total_w = sum(self.valid_weights[h] for h in results)
        if total_w <= 0:
            return math.nan, results
        combined = sum(self.valid_weights[h] * r["loss"] for h, r in results.items()) / total_w
        return combined, results

    def evaluate_splits(self, model: MultiHeadMACE) -> dict[str, dict[str, dict[str, float]]]:
        """Per-head metrics on the train, valid and test structures (training sets that
        are streamed from their files are left out; streamed validation and test sets are
        read once more)."""
        out = {}
        for split in ("train", "valid", "test"):
            graphs = {
                h: self._head_graphs(getattr(s, split))
                for h, s in self.setup.splits.items()
                if len(getattr(s, split)) and (split != "train" or isinstance(s.train, list))
            }
            out[split] = evaluate_heads(
                model,
                graphs,
                loss_weights=self.loss_weights,
                head_weights=self.head_weights,
                batch_size=self.config.training.valid_batch_size,
                ctx=self.ctx,
                max_atoms=self.config.training.max_atoms,
                max_edges=self.config.training.max_edges,
            )
        return out

    # ----------------------------------------------------------------- the loop
    def fit(self, *, resume: bool = False) -> dict[str, Any]:
        """Train to the end (or until early stopping or the time limit).

        Args:
            resume: Continue from ``checkpoint.pt`` in the output directory.

        Returns:
            The final results (also written to ``results.json``).
        """
        cfg, tc = self.config, self.config.training
        if resume:
            self.resume()
        main = self.ctx.is_main
        if main:
            self.output.mkdir(parents=True, exist_ok=True)
        log = (
            RunLog(
                self.output,
                tensorboard=cfg.logging.tensorboard and main,
                resume_step=self.step if resume else None,
                wandb=dataclasses.asdict(cfg.logging.wandb) if cfg.logging.wandb else None,
                run_config=cfg.to_dict(),
            )
            if main
            else None
        )
        if main and not resume:
            log.write(
                {
                    "kind": "setup",
                    "step": 0,
                    "epoch": 0,
                    **_jsonable(self.setup.summary),
                    "batch": self.plan.describe(),
                    "steps_per_epoch": self.steps_per_epoch,
                    "optimizer_groups": [
                        {
                            "name": g["name"],
                            "lr_factor": g["lr_factor"],
                            "weight_decay": g["weight_decay"],
                            "parameters": sum(p.numel() for p in g["params"]),
                        }
                        for g in self.optimizer.param_groups
                    ],
                }
            )
        if main:
            _LOG.info(
                "training: %d steps (%d per epoch, %d epochs)%s; batch %s",
                self.total_steps,
                self.steps_per_epoch,
                math.ceil(self.total_steps / self.steps_per_epoch),
                f", resumed at step {self.step}" if resume else "",
                _jsonable(self.plan.describe()),
            )
        start_time = time.monotonic()
        bar = None
        if main and cfg.logging.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.total_steps, initial=self.step, unit="step", dynamic_ncols=True)
        steps = step_loader(self.steps, self.step, self.total_steps, num_workers=tc.num_workers)
        data_wait = 0.0
        while self.step < self.total_steps and not self.stopped:
            step = self.step
            epoch = step // self.steps_per_epoch
            waited = time.monotonic()
            data = next(steps)
            data_wait += time.monotonic() - waited
            parts = self.train_step(step, data)
            self.step = step + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{parts['loss']:.4g}")
            lr = self.lr
            if main and (self.step % cfg.logging.log_every == 0 or self.step == 1):
                elapsed = time.monotonic() - start_time
                log.write(
                    {
                        "kind": "train",
                        "step": self.step,
                        "epoch": epoch,
                        "lr": lr,
                        "elapsed": elapsed,
                        "data_wait": data_wait,
                        **({"skipped_oversize": self.skipped} if self.skipped else {}),
                        **parts,
                    }
                )
            epoch_end = self.step % self.steps_per_epoch == 0
            if main and epoch_end:
                _LOG.info(
                    "epoch %d done: step %d, train loss %.6g, lr %.4g, %.1f s",
                    epoch,
                    self.step,
                    parts["loss"],
                    lr,
                    time.monotonic() - start_time,
                )
            if epoch_end and (epoch + 1) % tc.eval_every == 0:
                self._end_of_epoch(epoch, log, bar, start_time)
            if tc.max_minutes is not None and (time.monotonic() - start_time) > 60 * tc.max_minutes:
                self.stopped = f"time limit of {tc.max_minutes} min"
            if epoch_end or self.step % tc.checkpoint_every == 0 or self.stopped:
                self._save_checkpoint()
        del steps  # stops the workers
        if bar is not None:
            bar.close()
        if not self.stopped:
            self.stopped = "last step"
        self._save_checkpoint()
        return self._finish(log)

    def _end_of_epoch(self, epoch: int, log: RunLog | None, bar, start_time: float) -> None:
        combined, results = self.validate()
        elapsed = time.monotonic() - start_time  # training and validation so far
        if log is not None:
            for head, r in results.items():
                log.write({"kind": "valid", "step": self.step, "epoch": epoch, "head": head, **r})
            log.write(
                {
                    "kind": "valid_combined",
                    "step": self.step,
                    "epoch": epoch,
                    "loss": combined,
                    "lr": self.lr,
                    "elapsed": elapsed,
                }
            )
        if bar is not None and results:
            bar.write(format_metrics(results, f"epoch {epoch}: valid loss {combined:.5g}"))
        if self.ctx.is_main and results:
            _LOG.info(
                "epoch %d valid: loss %.6g%s; %s",
                epoch,
                combined,
                " (best)" if combined < self.best_loss else "",
                "; ".join(_error_text(h, r) for h, r in results.items()),
            )
        if math.isnan(combined):
            return
        self.scheduler.step(combined)
        if combined < self.best_loss:
            self.best_loss = combined
            self.best_step = self.step
            self.bad_evals = 0
            self._save_model(self.eval_model, MODEL_NAME)
        else:
            self.bad_evals += 1
            if self.bad_evals >= self.config.training.patience:
                self.stopped = f"early stopping after {self.bad_evals} evaluations"

    def _finish(self, log: RunLog | None) -> dict[str, Any]:
        self._save_model(self.eval_model, LAST_MODEL_NAME)
        best_path = self.output / MODEL_NAME
        if self.ctx.is_main and not best_path.exists():
            # no validation data: the last model is the model
            self._save_model(self.eval_model, MODEL_NAME)
        if self.ctx.distributed:
            torch.distributed.barrier()
        from mmh_heads import load_model

        best = load_model(best_path, device=self.ctx.device).to(self.model.dtype)
        results = {
            "stopped": self.stopped,
            "steps": self.step,
            "best_step": self.best_step,
            "best_valid_loss": self.best_loss,
            "model": str(best_path),
            "metrics": self.evaluate_splits(best),
        }
        if log is not None:
            for split, per_head in results["metrics"].items():
                for head, r in per_head.items():
                    log.write(
                        {"kind": "final", "split": split, "step": self.step, "head": head, **r}
                    )
            log.close()
            (self.output / "results.json").write_text(json.dumps(_jsonable(results), indent=2))
            if self.config.logging.plots:
                plot_learning_curves(log.jsonl, self.output / "learning_curves.png")
            _LOG.info(
                "stopped: %s after %d steps; %s; model %s",
                self.stopped,
                self.step,
                f"best step {self.best_step}" if self.best_step >= 0 else "no validation",
                best_path,
            )
            for split, per_head in results["metrics"].items():
                if per_head:
                    for line in format_metrics(per_head, f"{split} errors").splitlines():
                        _LOG.info("%s", line)
        return results


def _error_text(head: str, r: Mapping[str, float]) -> str:
    parts = [f"{head}:"]
    for key, unit in (("energy", "meV/atom"), ("forces", "meV/Å"), ("stress", "meV/Å³")):
        if f"{key}_mae" in r:
            parts.append(f"{key[0].upper()} MAE {r[f'{key}_mae']:.4g} {unit}")
    return " ".join(parts)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
