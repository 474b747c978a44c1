"""Turn ``ase.Atoms`` objects into [`mmh_data.Configuration`][] objects, following a key map."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
from ase import Atoms

from ._configuration import DEFAULT_CONFIG_TYPE, DEFAULT_HEAD, Configuration
from ._errors import BadLabelError, MissingLabelWarning, UnknownHeadError
from ._keys import KeySpec
from ._validate import DEFAULT_MIN_DISTANCE, check_configuration

__all__ = ["AtomsConverter", "configurations_from_atoms", "voigt_to_matrix"]


def voigt_to_matrix(value: np.ndarray) -> np.ndarray:
    """Stress as a 3x3 matrix from Voigt 6 (xx yy zz yz xz xy), 9 values or 3x3.

    Args:
        value: 6, 9 or 3x3 numbers.

    Returns:
        The ``[3, 3]`` matrix.

    Raises:
        ValueError: For any other number of values.
    """
    v = np.asarray(value, dtype=np.float64).reshape(-1)
    if v.size == 6:
        xx, yy, zz, yz, xz, xy = v
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    if v.size == 9:
        return v.reshape(3, 3)
    raise ValueError(f"stress needs 6 (Voigt) or 9 values, got {v.size}")


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

    def _array(self, value, key: str, file, frame, shape=None) -> np.ndarray:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise BadLabelError(f"not numeric: {value!r}", file=file, frame=frame, key=key) from exc
        if shape is not None and arr.shape != shape:
            raise BadLabelError(
                f"shape {arr.shape}, expected {shape}", file=file, frame=frame, key=key
            )
        if not np.isfinite(arr).all():
            raise BadLabelError("contains NaN or infinite values", file=file, frame=frame, key=key)
        return arr

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

        energy = self._lookup(atoms, keys.energy)
        if energy is not None:
            arr = self._array(energy, keys.energy, file, frame)
            if arr.size != 1:
                raise BadLabelError(
                    f"energy must be one number, got shape {arr.shape}",
                    file=file,
                    frame=frame,
                    key=keys.energy,
                )
            energy = float(arr.reshape(-1)[0])
        else:
            self._note_missing(atoms, head, "energy", keys.energy, file, frame)
        forces = self._lookup(atoms, keys.forces)
        if forces is not None:
            forces = self._array(forces, keys.forces, file, frame, shape=(n, 3))
        else:
            self._note_missing(atoms, head, "forces", keys.forces, file, frame)
        stress = self._lookup(atoms, keys.stress)
        if stress is not None:
            arr = self._array(stress, keys.stress, file, frame)
            try:
                stress = voigt_to_matrix(arr)
            except ValueError as exc:
                raise BadLabelError(str(exc), file=file, frame=frame, key=keys.stress) from exc
        # stress is optional for most data sets (molecules have none): no warning.

        config_type = str(atoms.info.get(keys.config_type, DEFAULT_CONFIG_TYPE))
        weight = self._float(atoms, keys.config_weight, 1.0, file, frame)
        weight *= float(self.config_type_weights.get(config_type, 1.0))
        config = Configuration(
            atomic_numbers=atoms.numbers,
            positions=atoms.positions,
            cell=np.asarray(atoms.cell.array),
            pbc=np.asarray(atoms.pbc),
            energy=energy,
            forces=forces,
            stress=stress,
            weight=weight,
            energy_weight=self._float(atoms, keys.energy_weight, 1.0, file, frame),
            forces_weight=self._float(atoms, keys.forces_weight, 1.0, file, frame),
            stress_weight=self._float(atoms, keys.stress_weight, 1.0, file, frame),
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
