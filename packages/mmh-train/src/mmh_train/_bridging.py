"""Reading the domain-bridging set of a configuration into per-head training structures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from mmh_data import Configuration, bridging_configurations, read_bridging_frames
from mmh_data import datasets as bundled

from ._config import BridgingConfig
from ._data import check_files
from ._typed import ConfigError

__all__ = ["BridgingData", "load_bridging"]

WHERE = "bridging"


@dataclass
class BridgingData:
    """The included structures of a domain-bridging set, split by head.

    Attributes:
        per_head: ``{head: configurations}``, every head of ``bridging.labels`` (lists, or
            lazy sources when the files are streamed).
        included: Number of structures included (each may train several heads).
        available: Number of structures in the set.
    """

    per_head: dict[str, Sequence[Configuration]] = field(default_factory=dict)
    included: int = 0
    available: int = 0

    def summary(self) -> dict:
        """Counts for the run log."""
        return {
            "included": self.included,
            "available": self.available,
            "per_head": {h: len(c) for h, c in self.per_head.items()},
        }


def _label_map(cfg: BridgingConfig) -> dict[str, dict[str, str]]:
    return {head: labels.keys() for head, labels in cfg.labels.items()}


def _check_levels(cfg: BridgingConfig) -> None:
    levels = bundled.label_levels(cfg.dataset)
    for head, labels in cfg.labels.items():
        if labels.level is not None and labels.level not in levels:
            raise ConfigError(
                f"{WHERE}.labels.{head}.level: dataset {cfg.dataset!r} has no level "
                f"{labels.level!r}; its levels are {sorted(levels)}"
            )


def _frames(cfg: BridgingConfig) -> list[tuple[str, int, object]]:
    """``(source, frame index, atoms)`` of every structure of the set."""
    if cfg.dataset is not None:
        if cfg.dataset not in bundled.bridging_names():
            hint = (
                f"{cfg.dataset!r} is a single-level dataset"
                if cfg.dataset in bundled.names()
                else f"unknown bridging set {cfg.dataset!r}"
            )
            raise ConfigError(
                f"{WHERE}.dataset: {hint}; choose one of {bundled.bridging_names()} or give 'files'"
            )
        _check_levels(cfg)
        source = f"{cfg.dataset}:train"
        atoms = bundled.load_atoms(cfg.dataset, "train")
        return [(source, k, a) for k, a in enumerate(atoms)]
    check_files(cfg.files, f"{WHERE}.files")
    out = []
    for path in cfg.files:
        out += [(str(path), k, a) for k, a in enumerate(read_bridging_frames(path))]
    return out


def _subset(cfg: BridgingConfig, total: int, seed: int) -> np.ndarray:
    if cfg.count is not None:
        if cfg.count > total:
            raise ConfigError(
                f"{WHERE}.count: {cfg.count} is more than the {total} structures of the set"
            )
        n = cfg.count
    elif cfg.fraction is not None:
        n = max(1, round(cfg.fraction * total))
    else:
        return np.arange(total)
    rng = np.random.default_rng([seed, 23])
    return np.sort(rng.permutation(total)[:n])


def _load_lazily(cfg: BridgingConfig, seed: int) -> BridgingData:
    """The bridging files as lazy per-head sources (the same structures, in the same order,
    as reading them into memory)."""
    from mmh_data import ConcatSource, bridging_frame_count, open_bridging_sources

    check_files(cfg.files, f"{WHERE}.files")
    labels = _label_map(cfg)
    sizes = [bridging_frame_count(path) for path in cfg.files]
    chosen = _subset(cfg, sum(sizes), seed)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    parts: dict[str, list] = {h: [] for h in labels}
    for k, path in enumerate(cfg.files):
        local = chosen[(chosen >= starts[k]) & (chosen < starts[k + 1])] - starts[k]
        try:
            per_head = open_bridging_sources(path, labels, indices=local, weight=cfg.weight)
        except ValueError as err:
            if type(err) is ValueError:  # the label map, not the data
                raise ConfigError(f"{WHERE}.labels: {err}") from None
            raise
        for head, source in per_head.items():
            if len(source):
                parts[head].append(source)
    per_head = {h: (p[0] if len(p) == 1 else ConcatSource(p)) for h, p in parts.items()}
    return BridgingData(per_head, len(chosen), sum(sizes))


def load_bridging(
    cfg: BridgingConfig, heads: Sequence[str], *, seed: int, stream: bool = False
) -> BridgingData:
    """Read the set, draw the included structures and split them by head.

    A structure is included or not as a whole (a seeded random subset of ``count`` or
    ``fraction`` of the structures); an included structure trains every head whose label
    keys it carries and no other.

    Args:
        cfg: The ``bridging`` section.
        heads: The heads of the run that may take bridging data.
        seed: The run's seed.
        stream: Read the bridging files lazily, one structure at a time, instead of into
            memory (the bundled sets are always in memory).

    Raises:
        ConfigError: Unknown head, dataset or level, missing file, bad count, a head that
            gets no structure (the message names the key).
        DataError: A malformed frame (names file, frame and key).
    """
    for head in cfg.labels:
        if head not in heads:
            raise ConfigError(
                f"{WHERE}.labels.{head}: unknown head {head!r}; the heads of this run "
                f"that can take bridging data are {list(heads)}"
            )
    if stream and cfg.dataset is None:
        out = _load_lazily(cfg, seed)
        _require_every_head(out, _label_map(cfg))
        return out
    frames = _frames(cfg)
    chosen = _subset(cfg, len(frames), seed)
    labels = _label_map(cfg)
    out = BridgingData({h: [] for h in labels}, len(chosen), len(frames))
    by_source: dict[str, list[tuple[int, object]]] = {}
    for k in chosen:
        source, index, atoms = frames[k]
        by_source.setdefault(source, []).append((index, atoms))
    for source, items in by_source.items():
        try:
            per_head = bridging_configurations(
                [a for _, a in items],
                labels,
                source=source,
                indices=[i for i, _ in items],
                weight=cfg.weight,
            )
        except ValueError as err:
            if type(err) is ValueError:  # the label map, not the data
                raise ConfigError(f"{WHERE}.labels: {err}") from None
            raise
        for head, configs in per_head.items():
            out.per_head[head] += configs
    _require_every_head(out, labels)
    return out


def _require_every_head(data: BridgingData, labels: dict[str, dict[str, str]]) -> None:
    for head, configs in data.per_head.items():
        if not len(configs):
            raise ConfigError(
                f"{WHERE}.labels.{head}: none of the {data.included} included structures "
                f"carries the keys {sorted(labels[head].values())}"
            )
