"""The training configuration: typed sections read from one YAML file.

Every section is a dataclass; [`load_config`][mmh_train.load_config] rejects unknown keys and wrong
types with a message that names the key (``optimizer.lr``), before any data is read.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from mmh_data import LABEL_NAMES, KeySpec
from mmh_heads import HeadMeta, ModelConfig
from mmh_layers import BackboneConfig

from ._loss import LossWeights
from ._typed import ConfigError, from_data, to_data

__all__ = [
    "BridgingConfig",
    "BridgingLabels",
    "ConfigError",
    "FinetuneConfig",
    "HeadDataConfig",
    "HeadMeta",
    "LoggingConfig",
    "LossConfig",
    "ModelSection",
    "OptimizerConfig",
    "RegularizationConfig",
    "ReplayConfig",
    "TrainConfig",
    "TrainingConfig",
    "WandbConfig",
    "load_config",
]

E0Spec = str | dict[int, float]


def _defaults(cls: type) -> dict[str, Any]:
    return {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }


#: named architectures for ``model.preset``; explicit keys of the ``model:`` section override
#: them, and what neither sets is [`mmh_layers.BackboneConfig`][]'s (or
#: [`mmh_heads.ModelConfig`][]'s) default
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    # mace-torch's foundation-model sizes: 128 channels, L = 0, 1, 2
    "small": {"channels": 128, "max_L": 0},
    "medium": {"channels": 128, "max_L": 1},
    "large": {"channels": 128, "max_L": 2},
    # the MACE-MH-1 architecture (paper; reference notes §1.2)
    "mh1": {
        "block": "nonlinear",
        "channels": 512,
        "edge_channels": 128,
        "max_L": 1,
        "max_ell": 3,
        "correlation": 3,
        "num_interactions": 2,
        "r_max": 6.0,
        "num_bessel": 10,
        "radial_mlp": [64, 64, 64],
        "distance_transform": "agnesi",
        "agnostic_product": True,
        "zbl": True,
    },
    # a model for tests and quick runs on a laptop
    "tiny": {"channels": 16, "max_ell": 2, "radial_mlp": [32, 32]},
}

_MODEL_DEFAULTS: dict[str, Any] = {
    **_defaults(BackboneConfig),
    "readout_hidden": _defaults(ModelConfig)["readout_hidden"],
    "zbl": _defaults(ModelConfig)["zbl"],
}
_MODEL_DEFAULTS["radial_mlp"] = list(_MODEL_DEFAULTS["radial_mlp"])


@dataclass(frozen=True)
class ModelSection:
    """Architecture of a model trained from scratch (see [`mmh_layers.BackboneConfig`][]).

    Every field left unset (``null``) takes the value of ``preset`` (see `MODEL_PRESETS`:
    ``small``, ``medium``, ``large``, ``mh1``, ``tiny``), else the default of
    [`mmh_layers.BackboneConfig`][] (or of [`mmh_heads.ModelConfig`][] for ``readout_hidden``
    and ``zbl``), so each default is written once, in the library. The loaded section holds
    the resolved values, and the run directory's config records them.

    ``elements`` defaults to the elements found in the training data of all heads.

    A preset's value can be replaced by another value, not removed (``null`` means unset).

    Attributes:
        preset: A named architecture of `MODEL_PRESETS`; explicit keys override it.
    """

    preset: Literal["small", "medium", "large", "mh1", "tiny"] | None = None
    block: Literal["linear", "nonlinear"] | None = None
    channels: int | None = None
    max_L: int | None = None
    edge_channels: int | None = None
    max_ell: int | None = None
    correlation: int | None = None
    num_interactions: int | None = None
    r_max: float | None = None
    num_bessel: int | None = None
    envelope_p: int | None = None
    radial_mlp: list[int] | None = None
    distance_transform: Literal["agnesi"] | None = None
    agnostic_product: bool | None = None
    readout_hidden: int | None = None
    zbl: bool | None = None
    backend: Literal["e3nn", "cueq"] | None = None
    elements: list[int] | None = None

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in MODEL_PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; presets: {sorted(MODEL_PRESETS)}")
        preset = MODEL_PRESETS[self.preset] if self.preset else {}
        for f in dataclasses.fields(self):
            if f.name in ("preset", "elements") or getattr(self, f.name) is not None:
                continue
            if f.name in preset:
                object.__setattr__(self, f.name, copy.deepcopy(preset[f.name]))
            elif f.name in _MODEL_DEFAULTS:
                object.__setattr__(self, f.name, copy.deepcopy(_MODEL_DEFAULTS[f.name]))

    def backbone(self, elements: tuple[int, ...], avg_num_neighbors: float) -> BackboneConfig:
        """The backbone hyper-parameters for an element table."""
        return BackboneConfig(
            elements=tuple(elements),
            block=self.block,
            channels=self.channels,
            max_L=self.max_L,
            edge_channels=self.edge_channels,
            max_ell=self.max_ell,
            correlation=self.correlation,
            num_interactions=self.num_interactions,
            r_max=self.r_max,
            num_bessel=self.num_bessel,
            envelope_p=self.envelope_p,
            radial_mlp=tuple(self.radial_mlp),
            distance_transform=self.distance_transform,
            agnostic_product=self.agnostic_product,
            avg_num_neighbors=avg_num_neighbors,
            backend=self.backend,
        )


@dataclass(frozen=True)
class RegularizationConfig:
    """Selective regularisation of one head (SevenNet-Omni): an L2 penalty on the head's
    own parameters (its readout), ``weight · Σ_i (θ_i − θ0_i)²``, added to the training
    loss.

    Attributes:
        weight: The penalty weight ``w`` (per head; 0 switches the penalty off).
        target: ``"base"``: ``θ0`` is the base head's readout as it was when fine-tuning
            started (a snapshot, kept in the checkpoint); a new head, which starts as a
            copy of the base readout, is pulled back towards it. ``"zero"``: ``θ0 = 0``
            (plain L2). Default: ``"base"`` when fine-tuning, ``"zero"`` when
            pre-training (which has no base head).
    """

    weight: float
    target: Literal["base", "zero"] | None = None

    def __post_init__(self) -> None:
        if not self.weight >= 0:
            raise ValueError(f"weight must be >= 0, got {self.weight}")


@dataclass(frozen=True)
class HeadDataConfig:
    """The data of one head.

    Attributes:
        dataset: A bundled dataset (``bulk``, ``surf``, ``mol``, ``mol-base``); its splits
            fill ``train``/``valid``/``test`` where those are empty.
        train: Training files (extxyz, ASE db or mmh LMDB).
        valid: Validation files.
        test: Test files.
        valid_fraction: Without validation files, hold out this fraction of the training
            structures (chosen with the run's seed).
        max_train: Use at most this many training structures (the first ones after a
            seeded shuffle); for quick runs.
        keys: Key map of the files ([`mmh_data.KeySpec`][]: ``energy``, ``forces``, ``stress``,
            ``head``, ...; unset fields keep KeySpec's defaults, an unknown one is an error).
        config_type_weights: Weight factor per ``config_type``.
        e0s: ``"isolated"`` (isolated-atom energies of the bundled dataset or of the
            ``IsolatedAtom`` frames), ``"average"`` (least squares on the compositions),
            ``"estimated"`` (fine-tuning only: the base model's residuals, paper Eqs.
            21–25) or a ``{Z: E0}`` mapping in eV. Default: ``"isolated"`` when
            pre-training, ``"estimated"`` when fine-tuning.
        weight: Weight of this head in the training loss.
        valid_weight: Weight of this head's validation loss in the combined validation
            loss that drives the learning-rate schedule, early stopping and the best model.
        share: Fraction of every training batch drawn from this head (default: what the
            fixed shares leave, split in proportion to the dataset sizes).
        regularization: Selective regularisation of this head's readout.
        meta: What the head is ([`mmh_heads.HeadMeta`][]: ``level_of_theory``,
            ``dispersion``, ``datasets``, ``notes``), stored in the model file and shown
            by ``mmh-train info`` and ``mmh_ase.list_heads``.
    """

    dataset: str | None = None
    train: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    valid_fraction: float | None = None
    max_train: int | None = None
    keys: KeySpec = field(default_factory=KeySpec)
    config_type_weights: dict[str, float] = field(default_factory=dict)
    e0s: E0Spec | None = None
    weight: float = 1.0
    valid_weight: float = 1.0
    share: float | None = None
    regularization: RegularizationConfig | None = None
    meta: HeadMeta | None = None

    def __post_init__(self) -> None:
        if self.valid_fraction is not None and not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if isinstance(self.e0s, str) and self.e0s not in ("isolated", "average", "estimated"):
            raise ValueError(
                f"e0s must be 'isolated', 'average', 'estimated' or a mapping, got {self.e0s!r}"
            )
        if self.weight < 0 or self.valid_weight < 0:
            raise ValueError("weight and valid_weight must be >= 0")
        if self.share is not None and not 0 < self.share <= 1:
            raise ValueError(f"share must be in (0, 1], got {self.share}")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights ``(λ_E, λ_F, λ_σ)`` and Huber deltas (paper Eq. 26)."""

    energy_weight: float = 1.0
    forces_weight: float = 10.0
    stress_weight: float = 10.0
    energy_delta: float = 0.01
    forces_delta: float = 0.01
    stress_delta: float = 0.01
    conditional_forces: bool = True

    def weights(self) -> LossWeights:
        """As [`LossWeights`][mmh_train.LossWeights]."""
        return LossWeights(
            energy=self.energy_weight,
            forces=self.forces_weight,
            stress=self.stress_weight,
            energy_delta=self.energy_delta,
            forces_delta=self.forces_delta,
            stress_delta=self.stress_delta,
            conditional_forces=self.conditional_forces,
        )


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam (AMSGrad by default), EMA, clipping and the plateau schedule.

    Attributes:
        lr: Learning rate.
        amsgrad: Use AMSGrad.
        betas: Adam's betas.
        eps: Adam's epsilon.
        weight_decay: Weight decay of the backbone's linear maps, skip connections and
            product weights (no other parameter decays).
        clip_grad: Clip the gradient norm to this value (``None``: no clipping).
        ema_decay: Decay of the exponential moving average (``None``: no EMA).
        scheduler_factor: Factor of the plateau schedule.
        scheduler_patience: Evaluations without improvement before the learning rate drops.
        min_lr: Lower bound of the (base) learning rate.
        lr_factors: Learning-rate multiplier per named parameter group (``embedding``,
            ``interactions``, ``interactions.<k>``, ``products``, ``products.<k>``,
            ``readouts``, ``readouts.<head>``, ``backbone``): the parameters of a group
            train at ``lr * factor``; where groups overlap the more specific one wins
            (``readouts.<head>`` over ``readouts``, ``interactions.<k>`` over
            ``interactions`` over ``backbone``); other parameters keep factor 1. The
            schedule scales every group alike (its floor is ``min_lr * factor``).
    """

    lr: float = 0.01
    amsgrad: bool = True
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 5e-7
    clip_grad: float | None = 10.0
    ema_decay: float | None = 0.99
    scheduler_factor: float = 0.8
    scheduler_patience: int = 50
    min_lr: float = 0.0
    lr_factors: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        for group, factor in self.lr_factors.items():
            if not factor > 0:
                raise ValueError(
                    f"lr_factors.{group} must be > 0, got {factor} (freeze the group instead)"
                )
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if not 0 < self.scheduler_factor < 1:
            raise ValueError(f"scheduler_factor must be in (0, 1), got {self.scheduler_factor}")


@dataclass(frozen=True)
class TrainingConfig:
    """Length of the run, batches, evaluation and checkpoints.

    Attributes:
        epochs: Number of epochs (an epoch is one pass over the data that defines
            epochs: every head's training data, not the replay buffer).
        max_steps: Stop after this many optimiser steps (``None``: no limit).
        max_minutes: Stop, with a checkpoint, after this wall time (``None``: no limit).
        batch_size: Global batch size (all processes together).
        valid_batch_size: Batch size of evaluation.
        checkpoint_every: Write a checkpoint every this many steps (and at every epoch
            end).
        eval_every: Evaluate on the validation sets every this many epochs.
        patience: Early stopping: stop after this many evaluations without improvement
            of the combined validation loss.
        num_threads: torch intra-op threads (``None``: torch's default).
        deterministic: Use deterministic algorithms only.
        max_atoms: Bound on the atoms of one forward pass. A step whose structures exceed
            it is split into several passes whose gradients add up; the loss is
            normalised by the step's label counts, so the step is the same. Validation and
            evaluation passes are bounded the same way (a larger structure is evaluated
            alone, never left out).
        max_edges: The same bound on edges (directed neighbour pairs).
        oversize: A structure that alone exceeds ``max_atoms`` or ``max_edges``:
            ``"error"`` (names its file and frame) or ``"skip"`` (left out; the number is
            logged as ``skipped_oversize``).
        num_workers: DataLoader worker processes that read the structures of the coming
            steps and build their graphs while the model trains (0: in the main process).
        graph_cache: ``"memory"``: each graph is built once and kept for the run
            (training, validation and final evaluation share it); ``"none"``: built when
            needed, so memory stays flat for a dataset larger than memory; ``"auto"``:
            ``memory`` when every training stream is held in memory and
            ``num_workers`` is 0, else ``none``.
        streaming: Read the training, validation and test files of pre-training heads,
            the replay pool of fine-tuning and the domain-bridging files lazily, one
            structure when a step or an evaluation needs it
            ([`mmh_data.open_sources`][]), instead of into memory: ``"on"``, ``"off"``, or
            ``"auto"`` (on where the training files, the pool's or the bridging files are
            all mmh LMDB stores or ASE-LMDB files). The final evaluation leaves out
            streamed training sets.
    """

    epochs: int = 100
    max_steps: int | None = None
    max_minutes: float | None = None
    batch_size: int = 10
    valid_batch_size: int = 20
    checkpoint_every: int = 100
    eval_every: int = 1
    patience: int = 2048
    num_threads: int | None = None
    deterministic: bool = False
    max_atoms: int | None = None
    max_edges: int | None = None
    oversize: Literal["error", "skip"] = "error"
    num_workers: int = 0
    graph_cache: Literal["auto", "memory", "none"] = "auto"
    streaming: Literal["auto", "on", "off"] = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "valid_batch_size", "checkpoint_every", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_atoms", "max_edges"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.graph_cache == "memory" and self.num_workers > 0:
            raise ValueError(
                "graph_cache 'memory' keeps the graphs in the main process; set num_workers "
                "to 0, or graph_cache to 'none' to build them in the workers"
            )


@dataclass(frozen=True)
class ReplayConfig:
    """The replay buffer of the base head (multi-head replay fine-tuning).

    Attributes:
        dataset: The pre-training data as a bundled dataset (``train`` split is the pool,
            ``valid``/``test`` splits evaluate the base head).
        train: Pre-training files (the pool) instead of a bundled dataset.
        valid: Files to validate the base head on.
        test: Files to test the base head on.
        keys: Key map of the files ([`mmh_data.KeySpec`][]).
        count: Number of replay structures.
        fraction: Or: this fraction of the pool (neither: every structure of the pool that
            passes the element filter, e.g. a set of the user's own structures).
        method: ``"random"`` or ``"fps"`` (farthest-point sampling).
        filter: Element filter against the fine-tuning elements: ``"none"``,
            ``"combinations"``, ``"inclusive"`` or ``"exclusive"``.
        weight: Config weight of the replay structures in the loss.
        batch_share: Fraction of every batch drawn from the replay buffer.
        labels: ``"reference"``: the buffer trains on the labels of the files.
            ``"pseudo"``: before training, the buffer and the ``valid`` structures are
            labelled with the base head's own predictions by the input model (energy,
            forces, and stress of three-dimensionally periodic structures), so the base
            head is anchored to itself; reference labels are not needed. The labels are
            written to ``pseudo-labels.npz`` in the run directory and read back from there
            on resume.
    """

    dataset: str | None = None
    train: list[str] = field(default_factory=list)
    valid: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    keys: KeySpec = field(default_factory=KeySpec)
    count: int | None = None
    fraction: float | None = None
    method: Literal["random", "fps"] = "random"
    filter: Literal["none", "combinations", "inclusive", "exclusive"] = "none"
    weight: float = 1.0
    batch_share: float = 0.3
    labels: Literal["reference", "pseudo"] = "reference"

    def __post_init__(self) -> None:
        if self.count is not None and self.fraction is not None:
            raise ValueError("give at most one of replay.count and replay.fraction")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise ValueError(f"replay.fraction must be in (0, 1], got {self.fraction}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"replay.count must be >= 1, got {self.count}")
        if not 0 < self.batch_share < 1:
            raise ValueError(f"replay.batch_share must be in (0, 1), got {self.batch_share}")
        if self.weight < 0:
            raise ValueError("replay.weight must be >= 0")


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning of a pre-trained model.

    Attributes:
        model: The pre-trained model file.
        base_head: The head of the model to keep as the base head (default: its only head).
        mode: ``"replay"`` (multi-head replay: the base head trains on the replay buffer
            alongside the new heads), ``"no-replay"`` (the new heads train alone; the base
            head stays in the model, untrained, and is evaluated) or ``"naive"`` (classic
            fine-tuning: the base head itself is trained on the one new dataset and renamed
            after it; the model keeps one head).
        replay: The replay buffer and the base head's evaluation data.
        regularization: Selective regularisation of the base head's readout (not in
            ``naive`` mode, where the base head becomes the new head: regularise that one
            under ``heads``).
        keep_heads: Other heads of the input model that stay in the fine-tuned model
            with their names, readouts, E0s, scale and shift: ``"all"`` or a list of
            head names (default: none, only the base head is kept). A kept head that is
            also listed under ``heads`` trains on that data; any other kept head is
            frozen (its readout gets no updates; its predictions still follow the shared
            backbone unless the backbone is frozen too).
        freeze: Named parameter groups that do not train (``requires_grad`` off, left
            out of the optimiser): ``backbone``, ``embedding``, ``interactions``,
            ``interactions.<k>``, ``products``, ``products.<k>``, ``readouts``,
            ``readouts.<head>``.
    """

    model: str
    base_head: str | None = None
    mode: Literal["replay", "no-replay", "naive"] = "replay"
    replay: ReplayConfig | None = None
    regularization: RegularizationConfig | None = None
    keep_heads: Literal["all"] | list[str] = field(default_factory=list)
    freeze: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode == "replay" and self.replay is None:
            raise ValueError("finetune.mode 'replay' needs a finetune.replay section")
        if self.mode == "naive" and self.keep_heads:
            raise ValueError(
                "finetune.keep_heads: naive fine-tuning keeps one head; use mode "
                "'replay' or 'no-replay' to keep other heads"
            )
        if self.mode != "replay" and self.replay is not None and self.replay.labels == "pseudo":
            raise ValueError(
                "finetune.replay.labels: 'pseudo' labels the replay buffer, which only "
                "mode 'replay' trains on"
            )


@dataclass(frozen=True)
class BridgingLabels:
    """Which label keys of a domain-bridging set feed one head.

    Attributes:
        level: Shorthand for the keys ``<level>_energy``, ``<level>_forces`` and
            ``<level>_stress`` (the bundled ``bridge`` set has the levels ``gfn1`` and
            ``gfn2``).
        energy: Key of the energy (overrides ``level``).
        forces: Key of the forces.
        stress: Key of the stress.
    """

    level: str | None = None
    energy: str | None = None
    forces: str | None = None
    stress: str | None = None

    def __post_init__(self) -> None:
        if self.level is None and not (self.energy or self.forces or self.stress):
            raise ValueError("give 'level' or at least one of 'energy', 'forces', 'stress'")

    def keys(self) -> dict[str, str]:
        """``{property: key}`` for the properties this head takes from the set."""
        out = {}
        for prop in LABEL_NAMES:
            key = getattr(self, prop)
            if key is None and self.level is not None:
                key = f"{self.level}_{prop}"
            if key is not None:
                out[prop] = key
        return out


@dataclass(frozen=True)
class BridgingConfig:
    """A domain-bridging set (DBS): structures labelled for several heads at once.

    Every included structure is added to the training data of exactly the heads whose
    label keys it carries (see [`mmh_data.bridging_configurations`][]), before E0s and
    statistics are computed. In fine-tuning the base head's share goes to its replay stream
    (or, without replay, to a stream of its own).

    Attributes:
        labels: ``{head: BridgingLabels}``: which keys feed which head (heads of the run).
        dataset: A bundled domain-bridging set (``bridge``).
        files: Or: extended-XYZ / ASE-database files with one frame per structure.
        count: Include this many structures (a seeded random subset) ...
        fraction: ... or this fraction of them (default: all).
        weight: Factor on the config weight of every included structure.
    """

    labels: dict[str, BridgingLabels]
    dataset: str | None = None
    files: list[str] = field(default_factory=list)
    count: int | None = None
    fraction: float | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        if (self.dataset is None) == (not self.files):
            raise ValueError("give exactly one of 'dataset' and 'files'")
        if not self.labels:
            raise ValueError("'labels' must map at least one head to label keys")
        if self.count is not None and self.fraction is not None:
            raise ValueError("give at most one of 'count' and 'fraction'")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"count must be >= 1, got {self.count}")
        if not self.weight >= 0:
            raise ValueError(f"weight must be >= 0, got {self.weight}")


@dataclass(frozen=True)
class WandbConfig:
    """A Weights & Biases run (the ``mmh-train[wandb]`` extra).

    Attributes:
        project: The W&B project.
        name: The run's name (default: W&B's own).
        entity: The team or user (default: W&B's default entity).
        mode: ``"online"``, ``"offline"`` (sync later with ``wandb sync``) or
            ``"disabled"``; default: W&B's own (``WANDB_MODE`` or online).
        tags: Tags of the run.
    """

    project: str
    name: str | None = None
    entity: str | None = None
    mode: Literal["online", "offline", "disabled"] | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LoggingConfig:
    """Progress bars, TensorBoard, W&B and plots (``train.log``, JSONL and CSV logs are
    always written).

    Attributes:
        progress: Show a progress bar.
        tensorboard: Write TensorBoard events (the ``mmh-train[tensorboard]`` extra; a
            warning when it is not installed).
        wandb: Send the metrics to a W&B run (the ``mmh-train[wandb]`` extra; a warning
            when it is not installed).
        plots: Draw ``learning_curves.png`` at the end.
        log_every: Log the training loss every this many steps.
    """

    progress: bool = True
    tensorboard: bool = True
    wandb: WandbConfig | None = None
    plots: bool = True
    log_every: int = 10


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run.

    Attributes:
        output: Directory of the run (checkpoint, logs, model files, plots).
        seed: Seed of initialisation, splits, replay selection and batch order.
        dtype: ``"float32"`` or ``"float64"``.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        model: Architecture (pre-training only; fine-tuning takes the model's).
        heads: Data of each head, by head name (fine-tuning: the new heads).
        loss: Loss weights.
        optimizer: Optimiser, EMA and schedule.
        training: Epochs, batches, checkpoints.
        finetune: Present for fine-tuning.
        bridging: A domain-bridging set added to the heads' training data.
        logging: Progress and logs.
    """

    output: str = "runs/mmh"
    seed: int = 0
    dtype: Literal["float32", "float64"] = "float64"
    device: Literal["cpu", "cuda", "auto"] = "auto"
    model: ModelSection = field(default_factory=ModelSection)
    heads: dict[str, HeadDataConfig] = field(default_factory=dict)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    finetune: FinetuneConfig | None = None
    bridging: BridgingConfig | None = None
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML/JSON)."""
        return to_data(self)

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """Build from plain data; unknown keys and wrong types raise [`mmh_train.ConfigError`][]."""
        return from_data(cls, data)


def _set_path(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {key!r} is not a section")
        node = child
    node[keys[-1]] = value


def load_config(
    path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()
) -> TrainConfig:
    """Read and validate a YAML configuration.

    Args:
        path: The YAML file (``None``: all defaults).
        overrides: ``"key.sub=value"`` strings applied on top (values are parsed as YAML).

    Returns:
        The validated configuration.

    Raises:
        ConfigError: Unreadable file, unknown key, wrong type or invalid value.
    """
    data: Any = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"configuration file {str(path)!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}".replace("\n", " ")) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        _set_path(data, key.strip(), yaml.safe_load(value))
    return TrainConfig.from_dict(data)
