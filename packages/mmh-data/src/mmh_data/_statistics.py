"""Per-head dataset statistics, accumulated in one streaming pass."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from ase.data import chemical_symbols

from ._configuration import Configuration
from ._e0s import is_isolated_atom, solve_e0s
from ._errors import DataError, EmptyDatasetError
from ._neighbours import neighbour_list

__all__ = ["HeadStatistics", "StatisticsAccumulator", "compute_statistics", "format_statistics"]

E0Method = Literal["auto", "average", "isolated"]


@dataclass
class HeadStatistics:
    """Statistics of one head's data.

    Isolated-atom frames (one atom, config type ``IsolatedAtom``) give E0s; they are left
    out of every other figure.

    Attributes:
        head: Head name.
        num_configs: Number of structures (isolated atoms included).
        num_atoms: Number of atoms (isolated atoms included).
        num_isolated_atoms: Number of isolated-atom frames.
        elements: Atomic numbers present.
        cutoff: Cutoff of the neighbour count, Å.
        avg_num_neighbours: Mean number of neighbours within the cutoff per atom.
        e0s: ``{Z: E0}`` used (eV).
        e0s_method: How each E0 was obtained: ``{Z: "isolated" | "average" | "given"}``.
        isolated_e0s: Isolated-atom energies found in the data.
        mean_interaction_energy: Mean of ``(E - sum E0) / N`` over structures with an
            energy, eV/atom.
        std_interaction_energy: Its standard deviation, eV/atom.
        rms_force: Root mean square force component over structures with forces, eV/Å.
        num_energy: Structures with an energy label.
        num_forces: Structures with forces.
        num_stress: Structures with stress.
    """

    head: str
    num_configs: int
    num_atoms: int
    num_isolated_atoms: int
    elements: list[int]
    cutoff: float
    avg_num_neighbours: float
    e0s: dict[int, float]
    e0s_method: dict[int, str]
    isolated_e0s: dict[int, float]
    mean_interaction_energy: float
    std_interaction_energy: float
    rms_force: float
    num_energy: int
    num_forces: int
    num_stress: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary (element keys become strings)."""
        out = asdict(self)
        for name in ("e0s", "e0s_method", "isolated_e0s"):
            out[name] = {str(z): v for z, v in out[name].items()}
        return out


_MAX_Z = 119  # atomic numbers 0..118


def _zeros(*shape: int) -> np.ndarray:
    return np.zeros(shape, dtype=np.float64)


@dataclass
class StatisticsAccumulator:
    """Accumulates one head's statistics from configurations fed one at a time.

    Time is linear and memory constant in the number of structures: the E0 least squares
    is kept as its normal equations (per-element sums of ``n n^T`` and ``E n``), the
    interaction energy per atom ``(E - n.E0) / N`` as the first and second moments of
    ``E / N`` and ``n / N`` (exact for any E0s chosen afterwards). Accumulators of parts
    of the data can be merged ([`merge`][mmh_data.StatisticsAccumulator.merge]) and saved
    ([`state_dict`][mmh_data.StatisticsAccumulator.state_dict]), so the statistics of a source are
    computed once and cached.

    Args:
        head: Head name.
        cutoff: Neighbour-list cutoff in Å for the neighbour count.
    """

    head: str
    cutoff: float
    num_configs: int = 0
    num_atoms: int = 0
    num_isolated: int = 0
    num_forces: int = 0
    num_stress: int = 0
    _neighbour_atoms: int = 0
    _edges: int = 0
    _force_sq: float = 0.0
    _force_components: int = 0
    _energy_rows: int = 0
    _gram: np.ndarray = field(default_factory=lambda: _zeros(_MAX_Z, _MAX_Z))
    _rhs: np.ndarray = field(default_factory=lambda: _zeros(_MAX_Z))
    # moments of u = E/N - v.e_ref and v = n/N, about provisional E0s ``e_ref``
    _e_ref: np.ndarray = field(default_factory=lambda: _zeros(_MAX_Z))
    _su: float = 0.0
    _suu: float = 0.0
    _sv: np.ndarray = field(default_factory=lambda: _zeros(_MAX_Z))
    _suv: np.ndarray = field(default_factory=lambda: _zeros(_MAX_Z))
    _svv: np.ndarray = field(default_factory=lambda: _zeros(_MAX_Z, _MAX_Z))
    _isolated: dict[int, list[float]] = field(default_factory=dict)
    _isolated_positions: list[int] = field(default_factory=list)
    _elements: set[int] = field(default_factory=set)
    _structure_elements: set[int] = field(default_factory=set)

    def add(self, config: Configuration) -> None:
        """Add one structure."""
        self.num_configs += 1
        self.num_atoms += config.num_atoms
        zs, counts = np.unique(config.atomic_numbers, return_counts=True)
        self._elements.update(int(z) for z in zs)
        if config.stress is not None:
            self.num_stress += 1
        if is_isolated_atom(config):
            self.num_isolated += 1
            self._isolated_positions.append(self.num_configs - 1)
            if config.energy is not None:
                entry = self._isolated.setdefault(int(config.atomic_numbers[0]), [0.0, 0])
                entry[0] += config.energy
                entry[1] += 1
            return
        self._structure_elements.update(int(z) for z in zs)
        edge_index, _ = neighbour_list(config.positions, config.cell, config.pbc, self.cutoff)
        self._edges += edge_index.shape[1]
        self._neighbour_atoms += config.num_atoms
        if config.forces is not None:
            self.num_forces += 1
            self._force_sq += float(np.square(config.forces).sum())
            self._force_components += config.forces.size
        if config.energy is not None:
            self._add_energy(zs, counts.astype(np.float64), float(config.energy))

    def _add_energy(self, zs: np.ndarray, n: np.ndarray, energy: float) -> None:
        self._energy_rows += 1
        self._gram[np.ix_(zs, zs)] += np.outer(n, n)
        self._rhs[zs] += n * energy
        v = n / n.sum()
        u = energy / n.sum() - float(v @ self._e_ref[zs])
        self._su += u
        self._suu += u * u
        self._sv[zs] += v
        self._suv[zs] += u * v
        self._svv[np.ix_(zs, zs)] += np.outer(v, v)
        m = self._energy_rows
        if m & (m - 1) == 0 or m % 65536 == 0:
            # keep the moments centred near the final E0s, so that the variance of u
            # loses no digits to the large absolute energies (e.g. of molecules)
            self._recentre(self._provisional_e0s())

    def _provisional_e0s(self) -> np.ndarray:
        zs = sorted(self._elements)
        out = self._e_ref.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                e0 = solve_e0s(
                    self._gram[np.ix_(zs, zs)], self._rhs[zs], zs, rows=self._energy_rows
                )
            except (DataError, np.linalg.LinAlgError):
                return out
        for z, value in e0.items():
            out[z] = value
        return out

    def _recentre(self, e_new: np.ndarray) -> None:
        """Express the moments about ``e_new`` (exact algebra: u' = u - v.d)."""
        d = e_new - self._e_ref
        self._suu += -2 * (d @ self._suv) + d @ self._svv @ d
        self._su -= self._sv @ d
        self._suv -= self._svv @ d
        self._e_ref = e_new.copy()

    def merge(self, other: StatisticsAccumulator) -> StatisticsAccumulator:
        """Add the structures of another accumulator (same cutoff); returns ``self``."""
        if other.cutoff != self.cutoff:
            raise ValueError(f"cannot merge statistics of cutoffs {other.cutoff} and {self.cutoff}")
        self._isolated_positions += [self.num_configs + k for k in other._isolated_positions]
        for name in (
            "num_configs",
            "num_atoms",
            "num_isolated",
            "num_forces",
            "num_stress",
            "_neighbour_atoms",
            "_edges",
            "_force_sq",
            "_force_components",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for z, (e, n) in other._isolated.items():
            entry = self._isolated.setdefault(z, [0.0, 0])
            entry[0] += e
            entry[1] += n
        self._elements |= other._elements
        self._structure_elements |= other._structure_elements
        self._gram += other._gram
        self._rhs += other._rhs
        if other._energy_rows:
            other = StatisticsAccumulator.from_state_dict(other.state_dict())
            if self._energy_rows:
                other._recentre(self._e_ref)
            else:
                self._recentre(other._e_ref)
            self._su += other._su
            self._suu += other._suu
            self._sv += other._sv
            self._suv += other._suv
            self._svv += other._svv
            self._energy_rows += other._energy_rows
        return self

    def state_dict(self) -> dict[str, Any]:
        """The sums as JSON-serialisable data (only the elements present are kept)."""
        zs = sorted(self._elements)
        ix = np.ix_(zs, zs)
        return {
            "version": 1,
            "head": self.head,
            "cutoff": self.cutoff,
            "counts": [
                self.num_configs,
                self.num_atoms,
                self.num_isolated,
                self.num_forces,
                self.num_stress,
                self._neighbour_atoms,
                self._edges,
                self._force_components,
                self._energy_rows,
            ],
            "force_sq": self._force_sq,
            "elements": zs,
            "gram": self._gram[ix].tolist(),
            "rhs": self._rhs[zs].tolist(),
            "e_ref": self._e_ref[zs].tolist(),
            "su": self._su,
            "suu": self._suu,
            "sv": self._sv[zs].tolist(),
            "suv": self._suv[zs].tolist(),
            "svv": self._svv[ix].tolist(),
            "isolated": {str(z): v for z, v in sorted(self._isolated.items())},
            "isolated_positions": list(self._isolated_positions),
            "structure_elements": sorted(self._structure_elements),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> StatisticsAccumulator:
        """Rebuild from [`state_dict`][mmh_data.StatisticsAccumulator.state_dict] output."""
        if int(state.get("version", -1)) != 1:
            raise ValueError(f"unknown statistics version {state.get('version')!r}")
        acc = cls(str(state["head"]), float(state["cutoff"]))
        (
            acc.num_configs,
            acc.num_atoms,
            acc.num_isolated,
            acc.num_forces,
            acc.num_stress,
            acc._neighbour_atoms,
            acc._edges,
            acc._force_components,
            acc._energy_rows,
        ) = (int(x) for x in state["counts"])
        acc._force_sq = float(state["force_sq"])
        zs = [int(z) for z in state["elements"]]
        ix = np.ix_(zs, zs)
        acc._elements = set(zs)
        acc._gram[ix] = np.asarray(state["gram"], dtype=np.float64).reshape(len(zs), len(zs))
        acc._rhs[zs] = state["rhs"]
        acc._e_ref[zs] = state["e_ref"]
        acc._su = float(state["su"])
        acc._suu = float(state["suu"])
        acc._sv[zs] = state["sv"]
        acc._suv[zs] = state["suv"]
        acc._svv[ix] = np.asarray(state["svv"], dtype=np.float64).reshape(len(zs), len(zs))
        acc._isolated = {int(z): [float(e), int(n)] for z, (e, n) in state["isolated"].items()}
        acc._isolated_positions = [int(k) for k in state.get("isolated_positions", [])]
        acc._structure_elements = {int(z) for z in state.get("structure_elements", zs)}
        return acc

    def update(self, configs: Iterable[Configuration]) -> StatisticsAccumulator:
        """Add many structures; returns ``self``."""
        for config in configs:
            self.add(config)
        return self

    @property
    def elements(self) -> list[int]:
        """Atomic numbers seen so far (isolated atoms included)."""
        return sorted(self._elements)

    @property
    def structure_elements(self) -> list[int]:
        """Atomic numbers of the structures other than isolated atoms."""
        return sorted(self._structure_elements)

    @property
    def isolated_positions(self) -> list[int]:
        """Positions, in the order added (merged parts one after the other), of the
        isolated-atom frames."""
        return list(self._isolated_positions)

    @property
    def isolated_e0s(self) -> dict[int, float]:
        """Mean energy of the isolated-atom frames of each element seen so far."""
        return {z: e / n for z, (e, n) in sorted(self._isolated.items())}

    def average_e0s(
        self, elements: Sequence[int] | None = None, *, fixed: Mapping[int, float] | None = None
    ) -> dict[int, float]:
        """E0s by least squares on the compositions of the structures with an energy
        (isolated atoms left out), as [`mmh_data.average_e0s`][] gives on the same data.

        Args:
            elements: Elements to fit (default: those of the structures with an energy).
            fixed: E0s held fixed.
        """
        if elements is None:
            elements = [int(z) for z in np.flatnonzero(np.diag(self._gram))]
        elements = [int(z) for z in elements]
        return solve_e0s(
            self._gram[np.ix_(elements, elements)],
            self._rhs[elements],
            elements,
            rows=self._energy_rows,
            fixed=fixed,
            context=f"head {self.head!r}: ",
        )

    def result(self, e0s: E0Method | Mapping[int, float] = "auto") -> HeadStatistics:
        """Finish: fit E0s and compute the derived figures.

        Args:
            e0s: ``"auto"`` (isolated-atom energies where present, least squares for the
                other elements), ``"average"`` (least squares for all elements),
                ``"isolated"`` (isolated atoms only; every element needs one) or a
                ``{Z: E0}`` mapping to use as given.

        Returns:
            The [`HeadStatistics`][mmh_data.HeadStatistics].

        Raises:
            EmptyDatasetError: No structures were added.
            DataError: ``"isolated"`` was asked but some element has no isolated atom, or
                a given mapping lacks an element.
        """
        if self.num_configs == 0:
            raise EmptyDatasetError(f"head {self.head!r}: no structures")
        elements = sorted(self._elements)
        isolated = {z: s / n for z, (s, n) in sorted(self._isolated.items())}
        context = f"head {self.head!r}: "
        if isinstance(e0s, Mapping):
            given = {int(z): float(v) for z, v in e0s.items()}
            missing = [z for z in elements if z not in given]
            if missing:
                raise DataError(
                    f"{context}given E0s lack elements {[chemical_symbols[z] for z in missing]}"
                )
            values, method = given, dict.fromkeys(elements, "given")
        elif e0s == "isolated":
            missing = [z for z in elements if z not in isolated]
            if missing:
                raise DataError(
                    f"{context}no isolated-atom frames for "
                    f"{[chemical_symbols[z] for z in missing]}; use e0s='auto'"
                )
            values, method = isolated, dict.fromkeys(elements, "isolated")
        elif e0s in ("auto", "average"):
            fixed = {z: e for z, e in isolated.items() if z in self._elements}
            fixed = fixed if e0s == "auto" else {}
            if not self._energy_rows and len(fixed) != len(elements):
                raise EmptyDatasetError(f"{context}no structures with an energy to fit E0s")
            values = solve_e0s(
                self._gram[np.ix_(elements, elements)],
                self._rhs[elements],
                elements,
                rows=self._energy_rows,
                fixed=fixed,
                context=context,
            )
            method = {z: ("isolated" if z in fixed else "average") for z in elements}
        else:
            raise ValueError(f"unknown E0 method {e0s!r}; use auto, average, isolated or a dict")
        mean, std, n_energy = self._interaction_energy(values)
        n_energy += sum(n for _, n in self._isolated.values())
        return HeadStatistics(
            head=self.head,
            num_configs=self.num_configs,
            num_atoms=self.num_atoms,
            num_isolated_atoms=self.num_isolated,
            elements=elements,
            cutoff=self.cutoff,
            avg_num_neighbours=self._edges / self._neighbour_atoms
            if self._neighbour_atoms
            else 0.0,
            e0s={z: values[z] for z in elements},
            e0s_method=method,
            isolated_e0s=isolated,
            mean_interaction_energy=mean,
            std_interaction_energy=std,
            rms_force=(
                math.sqrt(self._force_sq / self._force_components)
                if self._force_components
                else 0.0
            ),
            num_energy=n_energy,
            num_forces=self.num_forces,
            num_stress=self.num_stress,
        )

    def _interaction_energy(self, e0s: Mapping[int, float]) -> tuple[float, float, int]:
        # (E - n.E0)/N = u - v.d with d = E0 - e_ref
        m = self._energy_rows
        if m == 0:
            return 0.0, 0.0, 0
        e = _zeros(_MAX_Z)
        for z, value in e0s.items():
            if int(z) < _MAX_Z:
                e[int(z)] = value
        d = e - self._e_ref
        mean = (self._su - self._sv @ d) / m
        second = (self._suu - 2 * (self._suv @ d) + d @ self._svv @ d) / m
        return float(mean), math.sqrt(max(second - mean * mean, 0.0)), m


def compute_statistics(
    configs: Iterable[Configuration],
    *,
    cutoff: float,
    e0s: E0Method | Mapping[str, Mapping[int, float] | str] | Mapping[int, float] = "auto",
    heads: Sequence[str] | None = None,
) -> dict[str, HeadStatistics]:
    """Statistics per head, in one pass over ``configs`` (which may be a lazy store).

    Args:
        configs: Structures of one or several heads (routed by ``config.head``).
        cutoff: Neighbour-list cutoff in Å (the model's ``r_max``).
        e0s: E0 method for all heads, a ``{Z: E0}`` mapping, or a per-head mapping
            ``{head: method-or-mapping}``. See
            [`StatisticsAccumulator.result`][mmh_data.StatisticsAccumulator.result].
        heads: Declared heads (their order is kept; an unknown head is an error and a
            head without data is an [`EmptyDatasetError`][mmh_data.EmptyDatasetError]). Default:
            heads in order of appearance.

    Returns:
        ``{head: HeadStatistics}``.

    Example:
        >>> # stats = compute_statistics(configs, cutoff=5.0)
        >>> # stats["pbe"].e0s, stats["pbe"].avg_num_neighbours
    """
    accumulators: dict[str, StatisticsAccumulator] = {}
    if heads is not None:
        accumulators = {h: StatisticsAccumulator(h, cutoff) for h in heads}
    for config in configs:
        acc = accumulators.get(config.head)
        if acc is None:
            if heads is not None:
                from ._errors import UnknownHeadError

                raise UnknownHeadError(
                    f"head {config.head!r} is not among the declared heads {list(heads)}",
                    file=config.source_file,
                    frame=config.source_index,
                    key="head",
                )
            acc = accumulators[config.head] = StatisticsAccumulator(config.head, cutoff)
        acc.add(config)
    if not accumulators:
        raise EmptyDatasetError("no structures to compute statistics on")
    per_head = isinstance(e0s, Mapping) and any(isinstance(k, str) for k in e0s)
    out = {}
    for head, acc in accumulators.items():
        method = e0s.get(head, "auto") if per_head else e0s  # type: ignore[union-attr]
        out[head] = acc.result(method)  # type: ignore[arg-type]
    return out


def format_statistics(stats: Mapping[str, HeadStatistics]) -> str:
    """Human-readable table of per-head statistics (used by the CLI).

    Args:
        stats: Output of [`compute_statistics`][mmh_data.compute_statistics].

    Returns:
        Multi-line text.
    """
    lines = []
    for s in stats.values():
        lines.append(f"head {s.head!r}")
        lines.append(
            f"  structures           {s.num_configs} ({s.num_isolated_atoms} isolated "
            f"atoms; energy {s.num_energy}, forces {s.num_forces}, stress "
            f"{s.num_stress})"
        )
        lines.append(f"  atoms                {s.num_atoms}")
        lines.append(f"  elements             {' '.join(chemical_symbols[z] for z in s.elements)}")
        lines.append(f"  avg neighbours       {s.avg_num_neighbours:.4f} (cutoff {s.cutoff} Å)")
        lines.append(
            f"  mean E_int / atom    {s.mean_interaction_energy:.6f} eV "
            f"(std {s.std_interaction_energy:.6f})"
        )
        lines.append(f"  RMS force            {s.rms_force:.6f} eV/Å")
        lines.append("  E0s (eV)")
        for z, e in s.e0s.items():
            lines.append(f"    {chemical_symbols[z]:<3} {e:>16.8f}  {s.e0s_method[z]}")
    return "\n".join(lines)
