"""The two recipes' preparation: model, per-head data, E0s, replay buffer and the training
streams. Everything here runs before the first step, so a bad configuration fails early."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from mmh_data import (
    ConcatSource,
    Configuration,
    StatisticsAccumulator,
    average_e0s,
    distributed_rank,
    element_filter_mask,
    select_replay,
)
from mmh_heads import ModelConfig, MultiHeadMACE, estimate_e0s, load_model, read_model_header

from ._bridging import BridgingData, load_bridging
from ._config import BridgingConfig, HeadDataConfig, ReplayConfig, TrainConfig
from ._data import (
    HeadSplits,
    check_elements,
    check_eval_elements,
    load_head,
    load_replay_pool,
    train_statistics,
)
from ._distributed import init_distributed
from ._groups import freeze_groups, group_lr_factors
from ._input_model import base_head, input_model, input_model_summary, kept_heads
from ._pseudo import PSEUDO_LABELS_NAME, pseudo_label
from ._regularization import SelectiveRegularization, regularization_from_config
from ._sampler import Source
from ._typed import ConfigError

__all__ = ["TrainingSetup", "prepare", "prepare_finetune", "prepare_pretrain"]

DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: Default pre-training data when a configuration names no head.
DEFAULT_PRETRAIN_HEADS = {"bulk": HeadDataConfig(dataset="bulk")}


@dataclass
class TrainingSetup:
    """A model with its heads and the data to train and evaluate it.

    Attributes:
        model: The model to train (on the CPU, in the run's dtype).
        splits: Per model head, the structures to evaluate on (``train`` of the base
            head in replay fine-tuning is its replay buffer).
        streams: The training streams: a [`Source`][mmh_train.Source] and its structures.
        head_weights: Loss weight of each model head.
        valid_weights: Weight of each head in the combined validation loss.
        summary: What was decided (E0 methods, replay size...), for the run log.
        regularization: Selective regularisation of head parameters (``None``: none).
    """

    model: MultiHeadMACE
    splits: dict[str, HeadSplits]
    streams: list[tuple[Source, list[Configuration]]]
    head_weights: dict[str, float]
    valid_weights: dict[str, float]
    summary: dict[str, Any] = field(default_factory=dict)
    regularization: SelectiveRegularization | None = None


def _elements(configs: list[Configuration]) -> set[int]:
    return {int(z) for c in configs for z in c.atomic_numbers}


def _resolve_e0s(
    head: HeadSplits,
    spec,
    table: tuple[int, ...],
    *,
    recipe: str,
    stats: StatisticsAccumulator | None = None,
) -> tuple[dict[int, float], str]:
    """A head's E0s over the element table and how they were obtained. ``stats`` are the
    head's training statistics (one pass); without them the training structures are
    read for ``"average"``."""
    present = set(stats.structure_elements) if stats is not None else _elements(head.train)
    where = f"heads.{head.name}.e0s"
    if spec is None:
        spec = "isolated" if recipe == "pretrain" else "estimated"
    if isinstance(spec, dict):
        missing = sorted(present - set(spec))
        if missing:
            raise ConfigError(f"{where}: no E0 given for elements {missing}")
        return {z: float(spec.get(z, 0.0)) for z in table}, "given"
    if spec == "isolated":
        missing = sorted(present - set(head.isolated_e0s))
        if missing:
            raise ConfigError(
                f"{where}: 'isolated' needs isolated-atom energies, missing for elements "
                f"{missing}; add IsolatedAtom frames, give the E0s, or use 'average'"
            )
        return {z: float(head.isolated_e0s.get(z, 0.0)) for z in table}, "isolated"
    if spec == "average":
        if stats is not None:
            fitted = stats.average_e0s()
        else:
            fitted = average_e0s(head.train, sorted(present))
        return {z: float(fitted.get(z, 0.0)) for z in table}, "average"
    raise ConfigError(f"{where}: 'estimated' E0s need a pre-trained model (fine-tuning only)")


def _no_train_error(name: str) -> ConfigError:
    return ConfigError(f"heads.{name}: the head has no training data")


#: Suffixes of the formats read lazily by ``training.streaming: auto``.
STREAMED_SUFFIXES = (".lmdb", ".aselmdb")


def _streams(config: TrainConfig, cfg: HeadDataConfig | ReplayConfig | BridgingConfig) -> bool:
    """Whether ``training.streaming`` reads the files of ``cfg`` lazily (its ``train``
    files, or a bridging section's ``files``)."""
    files = cfg.files if isinstance(cfg, BridgingConfig) else cfg.train
    mode = config.training.streaming
    if mode == "auto":
        return bool(files) and all(Path(f).suffix.lower() in STREAMED_SUFFIXES for f in files)
    return mode == "on"


def _load_heads(
    config: TrainConfig, heads: dict[str, HeadDataConfig], *, stream: bool = False
) -> dict[str, HeadSplits]:
    out = {}
    write = distributed_rank()[0] == 0
    for name, cfg in heads.items():
        splits = load_head(
            name,
            cfg,
            seed=config.seed,
            stream=stream and _streams(config, cfg),
            cutoff=config.model.r_max,
            write=write,
        )
        if len(splits.train) == 0:
            raise _no_train_error(name)
        out[name] = splits
    return out


def _add_bridging(
    config: TrainConfig, splits: dict[str, HeadSplits], heads: list[str]
) -> BridgingData | None:
    """Append the domain-bridging structures of each head of ``splits`` to its training
    data; returns them all (those of heads outside ``splits`` are the caller's)."""
    if config.bridging is None:
        return None
    stream = config.bridging.dataset is None and _streams(config, config.bridging)
    data = load_bridging(config.bridging, heads, seed=config.seed, stream=stream)
    for name, configs in data.per_head.items():
        if name in splits:
            splits[name].train = _joined(splits[name].train, configs)
    return data


def _joined(first: Sequence[Configuration], second: Sequence[Configuration]):
    """Two sets of structures one after the other: a list when both are lists, else a
    lazy concatenation."""
    if isinstance(first, list) and isinstance(second, list):
        return first + second
    return ConcatSource([first, second])


def prepare_pretrain(config: TrainConfig) -> TrainingSetup:
    """Model and data of a pre-training run (one head per entry of ``heads``).

    The element table is ``model.elements`` or the elements of all heads' data; E0s come
    from each head's ``e0s``; the per-head scale is the RMS force and the shift the mean
    interaction energy per atom of the head's training data; the message normalisation is
    the mean number of neighbours within ``r_max``. Structures of a ``bridging`` set are
    part of the training data of the heads they have labels for, from the start (E0s and
    statistics included). Penalties of ``heads.<name>.regularization`` pull readouts
    towards zero.
    """
    if config.finetune is not None:
        raise ConfigError("the configuration has a 'finetune' section; run 'mmh-train finetune'")
    heads_cfg = config.heads or DEFAULT_PRETRAIN_HEADS
    splits = _load_heads(config, heads_cfg, stream=True)
    bridging = _add_bridging(config, splits, list(splits))
    found = set().union(*(s.elements() for s in splits.values()))
    if config.model.elements is not None:
        table = tuple(sorted(int(z) for z in config.model.elements))
        extra = sorted(found - set(table))
        if extra:
            raise ConfigError(f"model.elements: the data has elements {extra} not in the table")
    else:
        table = tuple(sorted(found))
    r_max = config.model.r_max
    e0s, methods, scale, shift = {}, {}, {}, {}
    neighbours, atoms = 0.0, 0
    cache: dict[str, str] = {}
    write = distributed_rank()[0] == 0
    for name, head in splits.items():
        acc, status = train_statistics(head, r_max, write=write)
        cache.update(status)
        e0s[name], methods[name] = _resolve_e0s(
            head, heads_cfg[name].e0s, table, recipe="pretrain", stats=acc
        )
        # isolated-only elements do not enter the figures; their E0 is just a placeholder
        stats = acc.result({**acc.isolated_e0s, **e0s[name]})
        scale[name] = stats.rms_force if stats.rms_force > 0 else 1.0
        shift[name] = stats.mean_interaction_energy
        neighbours += stats.avg_num_neighbours * stats.num_atoms
        atoms += stats.num_atoms
    backbone = config.model.backbone(table, neighbours / max(atoms, 1))
    model_config = ModelConfig(
        backbone=backbone,
        heads=tuple(splits),
        readout_hidden=config.model.readout_hidden,
        e0s=e0s,
        scale=scale,
        shift=shift,
        zbl=config.model.zbl,
    )
    torch.manual_seed(config.seed)
    model = MultiHeadMACE(model_config, dtype=DTYPES[config.dtype])
    group_lr_factors(model, config.optimizer.lr_factors)
    regularization = regularization_from_config(config, model, recipe="pretrain")
    streams = [
        (Source(name, len(s.train), share=heads_cfg[name].share), s.train)
        for name, s in splits.items()
    ]
    return TrainingSetup(
        model=model,
        splits=splits,
        streams=streams,
        head_weights={n: heads_cfg[n].weight for n in splits},
        valid_weights={n: heads_cfg[n].valid_weight for n in splits},
        summary={
            "recipe": "pretrain",
            "elements": list(table),
            "e0s_method": methods,
            "avg_num_neighbors": backbone.avg_num_neighbors,
            "scale": scale,
            "shift": shift,
            "train_sizes": {n: len(s.train) for n, s in splits.items()},
            **({"statistics_cache": cache} if cache else {}),
            **_extras(bridging, regularization),
        },
        regularization=regularization,
    )


def _extras(bridging: BridgingData | None, regularization) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if bridging is not None:
        out["bridging"] = bridging.summary()
    if regularization is not None:
        out["regularization"] = regularization.describe()
    return out


def prepare_finetune(config: TrainConfig) -> TrainingSetup:
    """Model and data of a fine-tuning run (multi-head replay, or naive).

    The pre-trained model keeps the base head with its E0s and scale/shift, and the heads
    of ``finetune.keep_heads`` with theirs. Each new head starts as a copy of the base
    head's readout, scale and shift, with E0s from its ``e0s`` (default ``"estimated"``:
    the base model's residuals on the head's training data, paper Eqs. 21–25). A kept head
    listed under ``heads`` trains on that data (its E0s stay unless ``e0s`` is given;
    ``"estimated"`` then uses the head's own residuals); any other kept head is frozen. In
    ``replay`` mode the base head trains on a replay buffer selected from the
    pre-training data (count or fraction, random or farthest-point, element filter
    against the new heads' elements), drawn at ``replay.batch_share`` of every batch with
    config weight ``replay.weight``, and labelled by the files or, with ``replay.labels:
    pseudo``, by the base head's own predictions. In ``no-replay`` mode the base head gets
    no training data and is only evaluated. In ``naive`` mode (one new head only) the base
    head is the one that trains: it takes the new head's name and E0s and the model keeps
    no other head. All weights train, except those of the ``finetune.freeze`` groups.

    Structures of a ``bridging`` set join the training data of the heads they have labels
    for before the E0s are estimated: a new head's own stream, the base head's replay
    stream (or, without replay, a stream of its own). Penalties of
    ``heads.<name>.regularization`` and ``finetune.regularization`` are set up with a
    snapshot of the base head's readout taken here, before any training.
    """
    ft = config.finetune
    if ft is None:
        raise ConfigError("fine-tuning needs a 'finetune' section (finetune.model: FILE)")
    if not config.heads:
        raise ConfigError("heads: fine-tuning needs at least one new head with data")
    source = load_model(ft.model)
    heads = list(source.heads)
    base = base_head(ft, heads)
    kept = kept_heads(config, heads, base)
    if ft.mode == "naive" and len(config.heads) != 1:
        raise ConfigError(
            f"heads: naive fine-tuning trains one head, got {list(config.heads)}; "
            "use finetune.mode 'no-replay' to add several heads without replay"
        )
    model = input_model(source, kept).to(DTYPES[config.dtype])
    splits = _load_heads(config, config.heads)
    bridge_heads = list(config.heads) + ([] if ft.mode == "naive" else [base])
    bridging = _add_bridging(config, splits, bridge_heads)
    base_bridging = bridging.per_head.get(base, []) if bridging is not None else []
    for name, s in splits.items():
        check_elements([*s.train, *s.valid, *s.test], model.elements, f"heads.{name}")
    check_elements(base_bridging, model.elements, f"bridging.labels.{base}")
    methods: dict[str, str] = {"__base__": "kept"}
    for name, s in splits.items():
        spec = config.heads[name].e0s
        if name in kept:
            methods[name] = _kept_head_e0s(model, s, spec)
        elif spec is None or spec == "estimated":
            model.add_head(name, init_from=base)
            estimate_e0s(model, s.train, name, source=base)
            methods[name] = "estimated"
        else:
            model.add_head(name, init_from=base)
            e0s, methods[name] = _resolve_e0s(s, spec, model.elements, recipe="finetune")
            model.set_e0s(name, e0s)
    regularization = regularization_from_config(config, model, recipe="finetune", base_head=base)
    if ft.mode == "naive":
        model.remove_head(base)
    frozen_heads = [h for h in kept if h != base and h not in config.heads]
    frozen = _freeze(config, model, frozen_heads, regularization)
    streams = [
        (Source(name, len(s.train), share=config.heads[name].share), s.train)
        for name, s in splits.items()
    ]
    head_weights = {n: config.heads[n].weight for n in splits}
    valid_weights = {n: config.heads[n].valid_weight for n in splits}
    summary: dict[str, Any] = {
        "recipe": "finetune",
        "mode": ft.mode,
        "base_head": base,
        "input_model": input_model_summary(ft.model, heads),
        "kept_heads": {h: "frozen" if h in frozen_heads else "trained" for h in kept if h != base},
        "frozen": frozen,
    }
    summary.update(_extras(bridging, regularization))
    if ft.mode != "naive":
        head_weights[base] = 1.0
        valid_weights[base] = 1.0 if ft.mode == "replay" else 0.0
        base_splits = _base_head_splits(
            config, model, base, splits, streams, base_bridging, summary
        )
        splits = {base: base_splits, **splits}
    summary.update(
        e0s_method=methods,
        elements=list(model.elements),
        train_sizes={n: len(s.train) for n, s in splits.items()},
        new_head_e0s={n: model.head_e0s(n) for n in config.heads},
    )
    return TrainingSetup(
        model, splits, streams, head_weights, valid_weights, summary, regularization
    )


def _kept_head_e0s(model: MultiHeadMACE, head: HeadSplits, spec) -> str:
    """E0s of a kept head that trains on new data: its own unless ``e0s`` says otherwise
    (``"estimated"``: from the head's own residuals)."""
    if spec is None:
        return "kept"
    if spec == "estimated":
        estimate_e0s(model, head.train, head.name)
        return "estimated"
    e0s, method = _resolve_e0s(head, spec, model.elements, recipe="finetune")
    model.set_e0s(head.name, e0s)
    return method


def _freeze(
    config: TrainConfig,
    model: MultiHeadMACE,
    frozen_heads: list[str],
    regularization: SelectiveRegularization | None,
) -> list[str]:
    """Freeze the ``finetune.freeze`` groups and the readouts of the kept heads without
    data; check the names of ``optimizer.lr_factors`` too. Returns the frozen groups."""
    names = [*config.finetune.freeze, *(f"readouts.{h}" for h in frozen_heads)]
    frozen = freeze_groups(model, names, "finetune.freeze")
    group_lr_factors(model, config.optimizer.lr_factors)
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError("finetune.freeze: every parameter is frozen; nothing would train")
    for penalty in regularization.penalties if regularization is not None else []:
        readout = model.readouts[model.head_index(penalty.head)]
        if not any(p.requires_grad for p in readout.parameters()):
            raise ConfigError(
                f"finetune.freeze: the readout of head {penalty.head!r} is frozen, so its "
                "selective regularisation would do nothing; remove one of the two"
            )
    return frozen


def _base_head_splits(
    config: TrainConfig,
    model: MultiHeadMACE,
    base: str,
    splits: dict[str, HeadSplits],
    streams: list,
    base_bridging: Sequence[Configuration],
    summary: dict[str, Any],
) -> HeadSplits:
    """The base head's data in ``replay`` and ``no-replay`` modes: its evaluation splits
    from the replay pool, the replay buffer (``replay`` mode, pseudo-labelled by ``model``
    when ``replay.labels`` is ``pseudo``) and its domain-bridging structures; the
    training streams are appended to ``streams``."""
    ft = config.finetune
    base_splits = HeadSplits(base)
    if ft.replay is not None:
        pool = load_replay_pool(
            ft.replay,
            base,
            stream=_streams(config, ft.replay),
            cutoff=config.model.r_max,
            write=distributed_rank()[0] == 0,
        )
        base_splits.valid, base_splits.test = pool.valid, pool.test
        if ft.mode == "replay":
            new_elements = sorted(set().union(*(s.elements() for s in splits.values())))
            n = _replay_count(ft.replay, pool.train, new_elements)
            replay = select_replay(
                pool.train,
                n,
                method=ft.replay.method,
                filter=ft.replay.filter,
                elements=new_elements,
                seed=config.seed,
                head=base,
                weight=ft.replay.weight,
            )
            check_elements(replay, model.elements, "finetune.replay")
            check_eval_elements(pool, model.elements, "finetune.replay")
            if ft.replay.labels == "pseudo":
                replay, base_splits.valid = _pseudo_labels(
                    config, model, base, replay, list(base_splits.valid), summary
                )
            base_splits.train = _joined(replay, base_bridging)
            streams.append(
                (
                    Source(
                        f"{base} (replay)", len(base_splits.train), ft.replay.batch_share, False
                    ),
                    base_splits.train,
                )
            )
            summary.update(replay_size=len(replay), replay_pool=len(pool.train))
        else:
            check_eval_elements(pool, model.elements, "finetune.replay")
    if base_bridging and ft.mode != "replay":
        base_splits.train = base_bridging
        streams.append((Source(f"{base} (bridging)", len(base_bridging), None), base_bridging))
    return base_splits


def _replay_count(replay, pool: list[Configuration], elements: list[int]) -> int:
    """``replay.count``, or ``replay.fraction`` of the pool, or (neither) every structure
    that passes the element filter."""
    if replay.count is not None:
        return replay.count
    if replay.fraction is not None:
        return max(1, round(replay.fraction * len(pool)))
    sets = [frozenset(int(z) for z in c.atomic_numbers) for c in pool]
    n = int(element_filter_mask(sets, elements, replay.filter).sum())
    if n == 0:
        raise ConfigError(
            f"finetune.replay.filter: no structure of the pool passes the {replay.filter!r} "
            f"filter for elements {elements}"
        )
    return n


def _pseudo_labels(
    config: TrainConfig,
    model: MultiHeadMACE,
    base: str,
    replay: list[Configuration],
    valid: list[Configuration],
    summary: dict[str, Any],
) -> tuple[list[Configuration], list[Configuration]]:
    """The replay buffer and the base head's validation structures, labelled by the base
    head of ``model`` (before any training), from the run directory's file if it has them."""
    path = Path(config.output) / PSEUDO_LABELS_NAME
    meta = {
        "model_sha256": read_model_header(config.finetune.model).get("sha256"),
        "head": base,
        "dtype": config.dtype,
    }
    labelled, status = pseudo_label(
        model,
        {"train": replay, "valid": valid},
        base,
        path,
        meta,
        batch_size=config.training.valid_batch_size,
        device=init_distributed(config.device).device,
    )
    summary["pseudo_labels"] = {
        "file": str(path),
        "status": status,
        "train": len(replay),
        "valid": len(valid),
    }
    return labelled["train"], labelled["valid"]


def prepare(config: TrainConfig, recipe: str) -> TrainingSetup:
    """[`mmh_train.prepare_pretrain`][] or [`prepare_finetune`][mmh_train.prepare_finetune]."""
    if recipe == "pretrain":
        return prepare_pretrain(config)
    if recipe == "finetune":
        return prepare_finetune(config)
    raise ValueError(f"unknown recipe {recipe!r}")
