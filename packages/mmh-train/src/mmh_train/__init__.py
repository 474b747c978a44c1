"""Training of multi-head MACE models: the loss of the paper (Eq. 26), the training loop on
one process or many (``torchrun`` DDP), checkpoints with exact resume, and the two recipes,
``pretrain`` and ``finetune`` (multi-head replay, or naive), with the two ideas of
SevenNet-Omni: selective regularisation of head parameters and domain-bridging sets.
Fine-tuning can keep other heads of the input model, freeze named parameter groups, give
groups their own learning-rate factors and anchor the base head with pseudo-labelled
replay.

Typical use is the ``mmh-train`` command with a YAML file; the same runs from Python::

    from mmh_train import load_config, pretrain
    results = pretrain(load_config("pretrain.yaml"))
"""

from importlib import metadata as _metadata

from mmh_data import ErrorAccumulator, format_metrics

from ._bridging import BridgingData, load_bridging
from ._checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint, save_checkpoint
from ._config import (
    MODEL_PRESETS,
    BridgingConfig,
    BridgingLabels,
    FinetuneConfig,
    HeadDataConfig,
    LoggingConfig,
    LossConfig,
    ModelSection,
    OptimizerConfig,
    RegularizationConfig,
    ReplayConfig,
    TrainConfig,
    TrainingConfig,
    WandbConfig,
    load_config,
)
from ._distributed import DistributedContext, init_distributed
from ._ema import ExponentialMovingAverage
from ._evaluate import EvaluationGraphs, evaluate_heads, model_output
from ._groups import (
    freeze_groups,
    group_lr_factors,
    group_modules,
    group_names,
    group_parameters,
    group_rank,
)
from ._info import format_model_info, model_info
from ._launchers import LAUNCHERS, Placement, detect_placement
from ._log import LoggingSinkWarning, RunLog, plot_learning_curves, read_log
from ._loss import (
    LossTerms,
    LossWeights,
    conditional_huber,
    huber,
    weighted_loss_terms,
)
from ._predict import predict_structures, prediction_keys, write_predictions
from ._pseudo import (
    PSEUDO_LABELS_NAME,
    predict_labels,
    pseudo_label,
    read_pseudo_labels,
    structure_key,
    write_pseudo_labels,
)
from ._regularization import HeadPenalty, SelectiveRegularization, head_parameters
from ._run import finetune, pretrain, run_recipe
from ._sampler import MixedBatchPlan, Source, allocate
from ._schema import config_schema, write_config_schema
from ._setup import TrainingSetup, prepare, prepare_finetune, prepare_pretrain
from ._textlog import LOGGER_NAME, TRAIN_LOG_NAME, train_log
from ._trainer import LAST_MODEL_NAME, MODEL_NAME, Trainer, parameter_groups
from ._typed import ConfigError

try:
    __version__ = _metadata.version("mmh-train")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = [
    "CHECKPOINT_NAME",
    "LAST_MODEL_NAME",
    "LAUNCHERS",
    "LOGGER_NAME",
    "MODEL_NAME",
    "MODEL_PRESETS",
    "PSEUDO_LABELS_NAME",
    "TRAIN_LOG_NAME",
    "BridgingConfig",
    "BridgingData",
    "BridgingLabels",
    "CheckpointError",
    "ConfigError",
    "DistributedContext",
    "ErrorAccumulator",
    "EvaluationGraphs",
    "ExponentialMovingAverage",
    "FinetuneConfig",
    "HeadDataConfig",
    "HeadPenalty",
    "LoggingConfig",
    "LoggingSinkWarning",
    "LossConfig",
    "LossTerms",
    "LossWeights",
    "MixedBatchPlan",
    "ModelSection",
    "OptimizerConfig",
    "Placement",
    "RegularizationConfig",
    "ReplayConfig",
    "RunLog",
    "SelectiveRegularization",
    "Source",
    "TrainConfig",
    "Trainer",
    "TrainingConfig",
    "TrainingSetup",
    "WandbConfig",
    "__version__",
    "allocate",
    "conditional_huber",
    "config_schema",
    "detect_placement",
    "evaluate_heads",
    "finetune",
    "format_metrics",
    "format_model_info",
    "freeze_groups",
    "group_lr_factors",
    "group_modules",
    "group_names",
    "group_parameters",
    "group_rank",
    "head_parameters",
    "huber",
    "init_distributed",
    "load_bridging",
    "load_checkpoint",
    "load_config",
    "model_info",
    "model_output",
    "parameter_groups",
    "plot_learning_curves",
    "predict_labels",
    "predict_structures",
    "prediction_keys",
    "prepare",
    "prepare_finetune",
    "prepare_pretrain",
    "pretrain",
    "pseudo_label",
    "read_log",
    "read_pseudo_labels",
    "run_recipe",
    "save_checkpoint",
    "structure_key",
    "train_log",
    "weighted_loss_terms",
    "write_config_schema",
    "write_predictions",
    "write_pseudo_labels",
]
