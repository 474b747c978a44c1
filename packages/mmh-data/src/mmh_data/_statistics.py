"""Per-head dataset statistics, accumulated in one streaming pass."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from ase.data import chemical_symbols

from ._configuration import Configuration
from ._e0s import fit_e0s, is_isolated_atom
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


@dataclass
class _Group:
    """Running mean and M2 (Welford) of the energies of one composition."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)


@dataclass
class StatisticsAccumulator:
    """Accumulates one head's statistics from configurations fed one at a time.

    Memory does not grow with the number of structures, only with the number of distinct
    compositions. Energies of identical compositions are merged exactly (mean and
    count), so the E0 least squares equals the one on all rows.

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
    _groups: dict[tuple[tuple[int, int], ...], _Group] = field(default_factory=dict)
    _isolated: dict[int, list[float]] = field(default_factory=dict)
    _elements: set[int] = field(default_factory=set)

    def add(self, config: Configuration) -> None:
        """Add one structure."""
        self.num_configs += 1
        self.num_atoms += config.num_atoms
        self._elements.update(int(z) for z in np.unique(config.atomic_numbers))
        if config.stress is not None:
            self.num_stress += 1
        if is_isolated_atom(config):
            self.num_isolated += 1
            if config.energy is not None:
                entry = self._isolated.setdefault(int(config.atomic_numbers[0]), [0.0, 0])
                entry[0] += config.energy
                entry[1] += 1
            return
        edge_index, _ = neighbour_list(config.positions, config.cell, config.pbc, self.cutoff)
        self._edges += edge_index.shape[1]
        self._neighbour_atoms += config.num_atoms
        if config.forces is not None:
            self.num_forces += 1
            self._force_sq += float(np.square(config.forces).sum())
            self._force_components += config.forces.size
        if config.energy is not None:
            zs, counts = np.unique(config.atomic_numbers, return_counts=True)
            key = tuple(zip(zs.tolist(), counts.tolist(), strict=True))
            self._groups.setdefault(key, _Group()).add(config.energy)

    def update(self, configs: Iterable[Configuration]) -> StatisticsAccumulator:
        """Add many structures; returns ``self``."""
        for config in configs:
            self.add(config)
        return self

    def result(self, e0s: E0Method | Mapping[int, float] = "auto") -> HeadStatistics:
        """Finish: fit E0s and compute the derived figures.

        Args:
            e0s: ``"auto"`` (isolated-atom energies where present, least squares for the
                other elements), ``"average"`` (least squares for all elements),
                ``"isolated"`` (isolated atoms only; every element needs one) or a
                ``{Z: E0}`` mapping to use as given.

        Returns:
            The :class:`HeadStatistics`.

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
            keys = list(self._groups)
            index = {z: k for k, z in enumerate(elements)}
            A = np.zeros((len(keys), len(elements)))
            for r, key in enumerate(keys):
                for z, n in key:
                    A[r, index[z]] = n
            b = np.array([self._groups[k].mean for k in keys])
            w = np.array([self._groups[k].count for k in keys], dtype=np.float64)
            if keys or len(fixed) == len(elements):
                values = fit_e0s(A, b, elements, counts=w, fixed=fixed, context=context)
            else:
                raise EmptyDatasetError(f"{context}no structures with an energy to fit E0s")
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
        # Per-atom interaction energy of a structure in group g is (E - a_g.E0) / N_g;
        # combine the per-group means and variances exactly.
        total = 0
        mean = 0.0
        m2 = 0.0
        for key, group in self._groups.items():
            n_atoms = sum(n for _, n in key)
            ref = sum(n * e0s[z] for z, n in key)
            g_mean = (group.mean - ref) / n_atoms
            g_m2 = group.m2 / n_atoms**2
            new_total = total + group.count
            delta = g_mean - mean
            mean += delta * group.count / new_total
            m2 += g_m2 + delta**2 * total * group.count / new_total
            total = new_total
        std = math.sqrt(m2 / total) if total else 0.0
        return (mean if total else 0.0), std, total


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
            ``{head: method-or-mapping}``. See :meth:`StatisticsAccumulator.result`.
        heads: Declared heads (their order is kept; an unknown head is an error and a
            head without data is an :class:`EmptyDatasetError`). Default: heads in order
            of appearance.

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
        stats: Output of :func:`compute_statistics`.

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
