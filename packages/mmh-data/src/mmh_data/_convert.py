"""Turn ``ase.Atoms`` objects into [`mmh_data.Configuration`][] objects, following a key map."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
from ase import Atoms

from ._configuration import DEFAULT_CONFIG_TYPE, DEFAULT_HEAD, Configuration
from ._errors import BadLabelError, MissingLabelWarning, UnknownHeadError
from ._fields import LABELS, read_label
from ._keys import KeySpec
from ._validate import DEFAULT_MIN_DISTANCE, check_configuration

__all__ = ["AtomsConverter", "configurations_from_atoms"]


class AtomsConverter:
    """Converts frames one at a time and remembers which labels were missing.

    A missing label gives the frame weight 0 for that property. Instead of one warning
    per frame, [`finish`][mmh_data.AtomsConverter.finish] emits one
    [`MissingLabelWarning`][mmh_data.MissingLabelWarning] per ``(head, key)`` saying how many frames
    lacked the key and where the first one was.

    Args:
        keys: The key map.
        head: Head of frames that carry no head key (``"Default"`` when ``None``).
        heads: Declared head names; a frame routed elsewhere is an error. ``None`` accepts
            any head name.
        config_type_weights: Multiplies the config weight of frames by ``config_type``.
        elements: Allowed atomic numbers (``None``: all).
        min_distance: Smallest allowed interatomic distance in Å (``None``: no check).
    """

    def __init__(
        self,
        keys: KeySpec | None = None,
        *,
        head: str | None = None,
        heads: Sequence[str] | None = None,
        config_type_weights: Mapping[str, float] | None = None,
        elements: Iterable[int] | None = None,
        min_distance: float | None = DEFAULT_MIN_DISTANCE,
    ) -> None:
        self.keys = keys if keys is not None else KeySpec()
        self.head = DEFAULT_HEAD if head is None else str(head)
        self.heads = None if heads is None else [str(h) for h in heads]
        self.config_type_weights = dict(config_type_weights or {})
        self.elements = None if elements is None else sorted(int(z) for z in elements)
        self.min_distance = min_distance
        # (head, property) -> [count, first file, first frame, calculator hint]
        self._missing: dict[tuple[str, str], list] = {}
        self.num_frames = 0

    # -- label lookup -----------------------------------------------------------------
    def _lookup(self, atoms, key: str):
        if key in atoms.arrays:
            return atoms.arrays[key]
        if key in atoms.info:
            return atoms.info[key]
        if self.keys.use_calculator and atoms.calc is not None:
            results = getattr(atoms.calc, "results", {})
            if key in results:
                return results[key]
        return None

    def _in_calculator(self, atoms, prop: str) -> bool:
        return atoms.calc is not None and prop in getattr(atoms.calc, "results", {})

    def _note_missing(self, atoms, head: str, prop: str, key: str, file, frame) -> None:
        entry = self._missing.get((head, key))
        if entry is None:
            self._missing[(head, key)] = [1, file, frame, self._in_calculator(atoms, prop), prop]
        else:
            entry[0] += 1

    def _route(self, atoms, file, frame) -> str:
        key = self.keys.head
        value = atoms.info.get(key)
        name = self.head if value is None else str(value)
        if self.heads is not None and name not in self.heads:
            how = (
                f"names head {name!r}"
                if value is not None
                else (f"has no head key, and the default head {name!r}")
            )
            raise UnknownHeadError(
                f"frame {how} which is not among the declared heads {self.heads}",
                file=file,
                frame=frame,
                key=key,
            )
        return name

    def _float(self, atoms, key: str, default: float, file, frame) -> float:
        value = atoms.info.get(key)
        if value is None:
            return default
        try:
            out = float(np.asarray(value, dtype=np.float64).reshape(()))
        except (TypeError, ValueError) as exc:
            raise BadLabelError(
                f"expected one number, got {value!r}", file=file, frame=frame, key=key
            ) from exc
        if not np.isfinite(out) or out < 0:
            raise BadLabelError(
                f"weight must be finite and >= 0, got {out}", file=file, frame=frame, key=key
            )
        return out

    # -- conversion -------------------------------------------------------------------
    def convert(
        self, atoms: Atoms, *, file: str | None = None, frame: int | None = None
    ) -> Configuration:
        """Convert one ``ase.Atoms``.

        Args:
            atoms: The frame.
            file: File it came from (for messages and provenance).
            frame: Index of the frame in that file.

        Returns:
            The [`Configuration`][mmh_data.Configuration].

        Raises:
            DataError: A subclass naming file, frame and key, for any invalid input.
        """
        keys = self.keys
        self.num_frames += 1
        head = self._route(atoms, file, frame)
        n = len(atoms)

        labels: dict[str, object] = {}
        for field in LABELS:
            key = keys.label_key(field.name)
            value = self._lookup(atoms, key)
            labels[field.weight_name] = self._float(
                atoms, keys.weight_key(field.name), 1.0, file, frame
            )
            if value is not None:
                labels[field.name] = read_label(field, value, n, file=file, frame=frame, key=key)
            elif field.warn_missing:
                self._note_missing(atoms, head, field.name, key, file, frame)

        config_type = str(atoms.info.get(keys.config_type, DEFAULT_CONFIG_TYPE))
        weight = self._float(atoms, keys.config_weight, 1.0, file, frame)
        weight *= float(self.config_type_weights.get(config_type, 1.0))
        config = Configuration(
            atomic_numbers=atoms.numbers,
            positions=atoms.positions,
            cell=np.asarray(atoms.cell.array),
            pbc=np.asarray(atoms.pbc),
            weight=weight,
            **labels,
            config_type=config_type,
            head=head,
            source_file=file,
            source_index=frame,
        )
        check_configuration(config, min_distance=self.min_distance, elements=self.elements)
        return config

    def finish(self) -> None:
        """Emit one warning per ``(head, key)`` whose label was missing in some frames."""
        for (head, key), (count, file, frame, in_calc, prop) in sorted(
            self._missing.items(), key=lambda kv: kv[0]
        ):
            hint = (
                f" The frames carry an ASE calculator with a {prop!r} result; to use it, set "
                f"KeySpec({prop}={prop!r}, use_calculator=True) (see KeySpec.from_calculator)."
                if in_calc
                else ""
            )
            first = f"first in file {file!r}, frame {frame}" if file else f"first at frame {frame}"
            warnings.warn(
                f"head {head!r}: {prop} key {key!r} is missing in {count} of "
                f"{self.num_frames} frame(s) ({first}); these frames get {prop} weight 0.{hint}",
                MissingLabelWarning,
                stacklevel=3,
            )
        self._missing.clear()

    def iter_convert(
        self, frames: Iterable, *, file: str | None = None, start: int = 0
    ) -> Iterator[Configuration]:
        """Convert frames lazily (without [`finish`][mmh_data.AtomsConverter.finish]).

        Args:
            frames: ``ase.Atoms`` objects.
            file: Source file name for messages.
            start: Frame index of the first frame.

        Yields:
            One [`Configuration`][mmh_data.Configuration] per frame.
        """
        for index, atoms in enumerate(frames, start=start):
            yield self.convert(atoms, file=file, frame=index)


def configurations_from_atoms(
    atoms_list: Iterable,
    *,
    keys: KeySpec | None = None,
    head: str | None = None,
    heads: Sequence[str] | None = None,
    source: str | None = None,
    config_type_weights: Mapping[str, float] | None = None,
    elements: Iterable[int] | None = None,
    min_distance: float | None = DEFAULT_MIN_DISTANCE,
) -> list[Configuration]:
    """Convert ``ase.Atoms`` objects (from any source) into configurations.

    This is the entry point for structures already in memory, e.g. a bundled dataset
    (``mmh_data.datasets.load_atoms``) or atoms built in a script.

    Args:
        atoms_list: The frames.
        keys: Key map (defaults: ``REF_energy``, ``REF_forces``, ``REF_stress``, ``head``...).
        head: Head of frames without a head key (``"Default"`` when ``None``).
        heads: Declared heads; a frame naming another head raises
            [`UnknownHeadError`][mmh_data.UnknownHeadError].
        source: Name used as the file in messages and provenance.
        config_type_weights: Weight factor per ``config_type``.
        elements: Allowed atomic numbers.
        min_distance: Smallest allowed interatomic distance in Å.

    Returns:
        One [`Configuration`][mmh_data.Configuration] per frame, in order.

    Example:
        >>> from ase.build import molecule
        >>> h2o = molecule("H2O"); h2o.info["REF_energy"] = -14.2
        >>> configs = configurations_from_atoms([h2o], head="dft")  # warns: no REF_forces
        >>> configs[0].energy, configs[0].head
        (-14.2, 'dft')
    """
    converter = AtomsConverter(
        keys,
        head=head,
        heads=heads,
        config_type_weights=config_type_weights,
        elements=elements,
        min_distance=min_distance,
    )
    configs = list(converter.iter_convert(atoms_list, file=source))
    converter.finish()
    return configs
