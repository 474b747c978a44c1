"""Reading the data of every head named in a configuration, with start-up checks."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mmh_data import (
    ConcatSource,
    Configuration,
    DataError,
    KeySpec,
    MissingLabelWarning,
    StatisticsAccumulator,
    SubsetSource,
    cached_statistics,
    configurations_from_atoms,
    is_isolated_atom,
    isolated_atom_energies,
    iter_configurations,
    open_source,
    read_configurations,
)
from mmh_data import datasets as bundled

from ._config import HeadDataConfig, ReplayConfig
from ._typed import ConfigError

__all__ = [
    "HeadSplits",
    "TrainSources",
    "check_elements",
    "check_eval_elements",
    "check_files",
    "load_head",
    "load_replay_pool",
    "train_statistics",
]


@dataclass(frozen=True)
class TrainSources:
    """The files behind the first ``count`` training structures of a head, and how they
    are read (so that their statistics can be cached with them).

    Attributes:
        files: The training files, every frame of which is used.
        count: Number of training structures that come from them (isolated atoms left
            out); structures after these (domain-bridging ones) come from elsewhere.
        keys: The key map the files are read with.
        config_type_weights: Weight factor per ``config_type``.
    """

    files: tuple[str, ...]
    count: int
    keys: dict[str, str]
    config_type_weights: dict[str, float]


@dataclass
class HeadSplits:
    """The structures of one head.

    Attributes:
        name: Head name.
        train: Training structures (isolated atoms removed).
        valid: Validation structures.
        test: Test structures.
        isolated_e0s: Isolated-atom energies from the bundled dataset's metadata or from
            ``IsolatedAtom`` frames (empty if there are none).
        sources: The files of the training structures (see `TrainSources`); ``None``
            when the training structures are not whole files (a held-out fraction, a
            ``max_train`` subset, a bundled dataset).
        file_statistics: Statistics of the training files (isolated atoms included),
            when reading them lazily needed them already.
        train_elements: Elements of the training files (lazily read heads), so that
            `elements` need not read them.

        eval_elements: Elements of the validation and test files (lazily read heads).

    A head read in streaming mode has lazy [`ConfigurationSource`][mmh_data.ConfigurationSource]
    objects as ``train``, ``valid`` and ``test``: structures are read when a step or an
    evaluation needs them.
    """

    name: str
    train: Sequence[Configuration] = field(default_factory=list)
    valid: Sequence[Configuration] = field(default_factory=list)
    test: Sequence[Configuration] = field(default_factory=list)
    isolated_e0s: dict[int, float] = field(default_factory=dict)
    sources: TrainSources | None = None
    file_statistics: tuple[StatisticsAccumulator, dict[str, str]] | None = None
    train_elements: set[int] | None = None
    eval_elements: set[int] | None = None

    def elements(self) -> set[int]:
        """Atomic numbers present in any split (from the files' statistics where they are
        read lazily)."""
        train = self.train_elements
        if train is None:
            train = _elements(self.train)
        evaluated = self.eval_elements
        if evaluated is None:
            evaluated = _elements(self.valid) | _elements(self.test)
        return set(train) | set(evaluated)


def _elements(configs: Sequence[Configuration]) -> set[int]:
    return {int(z) for c in configs for z in np.unique(c.atomic_numbers)}


def _keys(keys: KeySpec | dict[str, str], where: str) -> KeySpec:
    if isinstance(keys, KeySpec):
        return keys
    try:
        return KeySpec.from_dict(keys)
    except ValueError as err:
        raise ConfigError(f"{where}.keys: {err}") from None


def _check_dataset(name: str, where: str) -> None:
    if name in bundled.bridging_names():
        raise ConfigError(
            f"{where}.dataset: {name!r} is a domain-bridging set (labels for several heads); "
            "use it in the 'bridging' section"
        )
    if name not in bundled.names():
        raise ConfigError(
            f"{where}.dataset: unknown bundled dataset {name!r}; choose one of {bundled.names()}"
        )


def check_files(files: Sequence[str], where: str) -> None:
    """Raise `ConfigError` naming the first file that does not exist."""
    for f in files:
        if not Path(f).exists():
            raise ConfigError(f"{where}: file {f!r} does not exist")


def check_elements(configs: Sequence[Configuration], table: Sequence[int], where: str) -> None:
    """Raise `ConfigError` if a structure has an element outside the model's table.

    The one-line message names each file (or bundled split) with the elements it has
    outside the table, and the table.
    """
    allowed = {int(z) for z in table}
    missing: dict[str, set[int]] = {}
    for c in configs:
        extra = {int(z) for z in np.unique(c.atomic_numbers)} - allowed
        if extra:
            missing.setdefault(c.source_file or "<no file>", set()).update(extra)
    if missing:
        found = ", ".join(f"{sorted(zs)} in {f!r}" for f, zs in missing.items())
        raise ConfigError(
            f"{where}: elements {found} are not in the pre-trained model's element table "
            f"{sorted(allowed)}"
        )


def check_eval_elements(splits: HeadSplits, table: Sequence[int], where: str) -> None:
    """`check_elements` for the validation and test structures of ``splits``: from the
    files' statistics where they are read lazily, structure by structure otherwise."""
    if splits.eval_elements is None:
        check_elements([*splits.valid, *splits.test], table, where)
        return
    extra = sorted(splits.eval_elements - {int(z) for z in table})
    if extra:
        raise ConfigError(
            f"{where}: elements {extra} of the validation or test files are not in the "
            f"pre-trained model's element table {sorted(int(z) for z in table)}"
        )


def _bundled_split(dataset: str, split: str, head: str) -> list[Configuration]:
    try:
        atoms = bundled.load_atoms(dataset, split)
    except KeyError:
        return []
    return configurations_from_atoms(atoms, head=head, heads=[head], source=f"{dataset}:{split}")


def _read(files: Sequence[str], keys: KeySpec, head: str, weights) -> list[Configuration]:
    if not files:
        return []
    return read_configurations(
        list(files), keys=keys, head=head, heads=[head], config_type_weights=weights or None
    )


def _load_splits(where: str, cfg, head: str, weights) -> HeadSplits:
    """Train/valid/test of one head: files where given, else the bundled dataset's splits."""
    keys = _keys(cfg.keys, where)
    for split in ("train", "valid", "test"):
        check_files(getattr(cfg, split), f"{where}.{split}")
    if cfg.dataset is not None:
        _check_dataset(cfg.dataset, where)
    out = HeadSplits(head)
    for split in ("train", "valid", "test"):
        files = getattr(cfg, split)
        if files:
            configs = _read(files, keys, head, weights)
        elif cfg.dataset is not None:
            configs = _bundled_split(cfg.dataset, split, head)
        else:
            configs = []
        setattr(out, split, configs)
    return out


def load_head(
    name: str,
    cfg: HeadDataConfig,
    *,
    seed: int,
    stream: bool = False,
    cutoff: float | None = None,
    write: bool = True,
) -> HeadSplits:
    """Read the train/valid/test structures of one head.

    Frames that name another head in their ``head`` key are an error (naming the file,
    frame and key); isolated-atom frames are taken out of the training set and give the
    head's isolated-atom E0s. With ``stream``, the training files are opened as lazy
    sources ([`open_sources`][mmh_data.open_sources]) and their statistics, computed in one pass or
    taken from their cache, find the isolated atoms; the validation and test files are
    read into memory.

    Args:
        name: The head.
        cfg: Its data section.
        seed: The run's seed (held-out fraction, ``max_train`` subset).
        stream: Read the training files lazily.
        cutoff: Neighbour-list cutoff of the statistics (needed with ``stream``).
        write: Store freshly computed statistics with their files.

    Raises:
        ConfigError: Unknown bundled dataset, missing file, no training data.
        DataError: A malformed file or frame (the message names it).
    """
    where = f"heads.{name}"
    if stream and cfg.train:
        if cutoff is None:
            raise ValueError("reading a head lazily needs the cutoff of its statistics")
        out = _load_streamed(where, cfg, name, cutoff, write, cfg.config_type_weights)
    else:
        out = _load_splits(where, cfg, name, cfg.config_type_weights)
    if cfg.dataset is not None:
        out.isolated_e0s = {**bundled.isolated_atom_energies(cfg.dataset), **out.isolated_e0s}
    if isinstance(out.train, list):
        isolated = [c for c in out.train if is_isolated_atom(c)]
        if isolated:
            out.isolated_e0s = {**out.isolated_e0s, **isolated_atom_energies(isolated)}
            out.train = [c for c in out.train if not is_isolated_atom(c)]
    if cfg.train:
        out.sources = TrainSources(
            tuple(cfg.train), len(out.train), cfg.keys.to_dict(), dict(cfg.config_type_weights)
        )
    rng = np.random.default_rng([seed, 17])
    if cfg.valid_fraction is not None and not out.valid:
        out.sources = out.file_statistics = None
        order = rng.permutation(len(out.train))
        n_valid = max(1, round(cfg.valid_fraction * len(out.train)))
        out.valid = _subset(out.train, np.sort(order[:n_valid]))
        out.train = _subset(out.train, np.sort(order[n_valid:]))
    if cfg.max_train is not None and len(out.train) > cfg.max_train:
        out.sources = out.file_statistics = None
        order = rng.permutation(len(out.train))
        out.train = _subset(out.train, np.sort(order[: cfg.max_train]))
    return out


def _subset(train: Sequence[Configuration], indices: np.ndarray) -> Sequence[Configuration]:
    if isinstance(train, list):
        return [train[int(k)] for k in indices]
    return SubsetSource(train, indices)


def _open_lazily(
    files: Sequence[str],
    keys: KeySpec,
    head: str,
    weights,
    *,
    cutoff: float,
    key_map: dict,
    write: bool,
    drop_isolated: bool,
) -> tuple[Sequence[Configuration], StatisticsAccumulator, dict[str, str]]:
    """Files as one lazy source, with their statistics (computed in one pass or taken
    from their cache); ``drop_isolated`` leaves the isolated atoms out of the source."""
    acc = StatisticsAccumulator(head, cutoff)
    status: dict[str, str] = {}
    parts = []
    for f in files:
        source = open_source(f, keys=keys, head=head, heads=[head], config_type_weights=weights)

        def read(f=f):
            return iter_configurations(
                f, keys=keys, head=head, heads=[head], config_type_weights=weights
            )

        part, status[f] = cached_statistics(
            f, read, head=head, cutoff=cutoff, keys=key_map, write=write
        )
        if part.num_configs != len(source):
            raise DataError(
                f"the statistics of the file count {part.num_configs} structures, the file "
                f"has {len(source)}; delete its statistics cache",
                file=f,
            )
        if drop_isolated and part.isolated_positions:
            keep = np.ones(len(source), dtype=bool)
            keep[part.isolated_positions] = False
            source = SubsetSource(source, np.flatnonzero(keep))
        parts.append(source)
        acc.merge(part)
    joined = parts[0] if len(parts) == 1 else ConcatSource(parts)
    return joined, acc, status


def _load_streamed(
    where: str,
    cfg,
    name: str,
    cutoff: float,
    write: bool,
    weights=None,
    *,
    drop_isolated_eval: bool = False,
) -> HeadSplits:
    """A head whose training, validation and test files are all read lazily (bundled
    splits, which are small, into memory). Isolated atoms are left out of the training
    source, and of the validation and test sources with ``drop_isolated_eval``."""
    keys = _keys(cfg.keys, where)
    for split in ("train", "valid", "test"):
        check_files(getattr(cfg, split), f"{where}.{split}")
    if cfg.dataset is not None:
        _check_dataset(cfg.dataset, where)
    weights = weights or None
    options = dict(cutoff=cutoff, key_map=cfg.keys.to_dict(), write=write)
    out = HeadSplits(name)
    out.train, acc, status = _open_lazily(
        cfg.train, keys, name, weights, drop_isolated=True, **options
    )
    out.isolated_e0s = acc.isolated_e0s
    out.train_elements = set(acc.structure_elements)
    out.file_statistics = (acc, status)
    out.sources = TrainSources(
        tuple(cfg.train), len(out.train), cfg.keys.to_dict(), dict(weights or {})
    )
    out.eval_elements = set()
    for split in ("valid", "test"):
        files = getattr(cfg, split)
        if files:
            configs, part, _ = _open_lazily(
                files, keys, name, weights, drop_isolated=drop_isolated_eval, **options
            )
            out.eval_elements |= set(part.elements)
        elif cfg.dataset is not None:
            configs = _bundled_split(cfg.dataset, split, name)
            if drop_isolated_eval:
                configs = [c for c in configs if not is_isolated_atom(c)]
            out.eval_elements |= _elements(configs)
        else:
            configs = []
        setattr(out, split, configs)
    return out


def load_replay_pool(
    cfg: ReplayConfig,
    head: str,
    *,
    stream: bool = False,
    cutoff: float | None = None,
    write: bool = True,
) -> HeadSplits:
    """The pre-training pool (``train``) and the base head's valid/test structures,
    isolated atoms left out. With ``stream`` the files are opened as lazy sources, so that
    a pool larger than memory can be sampled (only the selected structures are read)."""
    where = "finetune.replay"
    if cfg.dataset is None and not cfg.train:
        raise ConfigError(f"{where}: give the pre-training data as 'dataset' or 'train' files")
    with warnings.catch_warnings():
        if cfg.labels == "pseudo":  # the base head labels the structures
            warnings.simplefilter("ignore", MissingLabelWarning)
        if stream and cfg.train:
            if cutoff is None:
                raise ValueError("reading the replay pool lazily needs the statistics' cutoff")
            out = _load_streamed(where, cfg, head, cutoff, write, drop_isolated_eval=True)
        else:
            out = _load_splits(where, cfg, head, None)
            for split in ("train", "valid", "test"):
                setattr(out, split, [c for c in getattr(out, split) if not is_isolated_atom(c)])
    if not len(out.train):
        raise DataError(f"{where}: the replay pool is empty")
    return out


def train_statistics(
    head: HeadSplits, cutoff: float, *, write: bool = True
) -> tuple[StatisticsAccumulator, dict[str, str]]:
    """The statistics of a head's training structures, in one pass or from the cache.

    Training files used whole have their statistics cached with them (see
    [`cached_statistics`][mmh_data.cached_statistics]); any other training structure (a subset, a
    bundled dataset, domain-bridging structures) is accumulated here.

    Args:
        head: The head's structures.
        cutoff: Neighbour-list cutoff (the model's ``r_max``).
        write: Store freshly computed statistics with their files.

    Returns:
        The accumulator and, per training file, ``"cached"`` or ``"computed"``.
    """
    acc = StatisticsAccumulator(head.name, cutoff)
    status: dict[str, str] = {}
    rest: Sequence[Configuration] = head.train
    src = head.sources
    if src is not None and head.file_statistics is not None:
        part, status = head.file_statistics
        acc.merge(part)
        rest = head.train[src.count :]
    elif src is not None:
        keys = _keys(src.keys, f"heads.{head.name}")
        for f in src.files:

            def read(f=f):
                return iter_configurations(
                    f,
                    keys=keys,
                    head=head.name,
                    heads=[head.name],
                    config_type_weights=src.config_type_weights or None,
                )

            part, status[f] = cached_statistics(
                f, read, head=head.name, cutoff=cutoff, keys=src.keys, write=write
            )
            acc.merge(part)
        rest = head.train[src.count :]
    acc.update(rest)
    return acc, status
