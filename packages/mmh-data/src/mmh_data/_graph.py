"""One structure as tensors: [`mmh_data.AtomicGraph`][], built by [`mmh_data.GraphBuilder`][]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._configuration import Configuration
from ._errors import UnknownHeadError
from ._fields import LABELS
from ._neighbours import neighbour_list

__all__ = ["AtomicGraph", "GraphBuilder", "build_graph"]


@dataclass(eq=False)
class AtomicGraph:
    """One structure with its edges and labels, as torch tensors (see [`Batch`][mmh_data.Batch] for
    the batched form the model consumes). It has one attribute per label of
    [`LABELS`][mmh_data.LABELS] and one per label weight.

    Attributes:
        positions: ``[N, 3]`` float.
        atomic_numbers: ``[N]`` int64.
        edge_index: ``[2, E]`` int64; row 0 sender ``i``, row 1 receiver ``j``.
        unit_shifts: ``[E, 3]`` integer cell offsets, in the float dtype; the edge vector
            is ``positions[j] - positions[i] + unit_shifts @ cell``.
        cell: ``[3, 3]`` float (zeros without a cell).
        pbc: ``[3]`` bool.
        head: 0-d int64, index of the head in the builder's head list, or ``-1`` when
            the builder has none: the model then finds the head by `head_name`.
        energy: 0-d float (0 when missing).
        forces: ``[N, 3]`` float (zeros when missing).
        stress: ``[3, 3]`` float (zeros when missing).
        weight: 0-d float, config weight.
        energy_weight: 0-d float (0 when the label is missing).
        forces_weight: 0-d float (0 when the label is missing).
        stress_weight: 0-d float (0 when the label is missing).
        config_type: The configuration type.
        head_name: The head name.
        source: ``(file, frame)`` provenance.
    """

    positions: torch.Tensor
    atomic_numbers: torch.Tensor
    edge_index: torch.Tensor
    unit_shifts: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    head: torch.Tensor
    energy: torch.Tensor
    forces: torch.Tensor
    stress: torch.Tensor
    weight: torch.Tensor
    energy_weight: torch.Tensor
    forces_weight: torch.Tensor
    stress_weight: torch.Tensor
    config_type: str = "Default"
    head_name: str = "Default"
    source: tuple[str | None, int | None] = (None, None)

    @property
    def num_atoms(self) -> int:
        """Number of atoms."""
        return int(self.atomic_numbers.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of (directed) edges."""
        return int(self.edge_index.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        """The float dtype of positions and labels."""
        return self.positions.dtype

    def edge_vectors(self) -> torch.Tensor:
        """Edge vectors ``positions[j] - positions[i] + unit_shifts @ cell``, ``[E, 3]``."""
        i, j = self.edge_index
        return self.positions[j] - self.positions[i] + self.unit_shifts @ self.cell


_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
_SCALAR_LABELS = tuple(f for f in LABELS if not f.per_atom and f.shape == ())
_ARRAY_LABELS = tuple(f for f in LABELS if f not in _SCALAR_LABELS)


class GraphBuilder:
    """Builds [`mmh_data.AtomicGraph`][] objects with a fixed cutoff, dtype and, optionally, head
    list.

    A graph always carries its head's *name*; a model resolves names to its own heads
    ([`mmh_heads.MultiHeadMACE.resolve_heads`][]), so one graph serves any model with
    that head. Given a head list, the builder also stores the head's index in it (and
    rejects unknown heads). Instances are picklable and can be passed as a dataset
    transform, so DataLoader workers build graphs in parallel.

    Args:
        cutoff: Neighbour-list cutoff in Å.
        heads: Head names in model order; a graph's ``head`` is the index of its
            configuration's head here, and an unknown head raises
            [`UnknownHeadError`][mmh_data.UnknownHeadError]. ``None``: graphs carry the name only
            (index -1).
        dtype: Float dtype of positions, cell, shifts, labels and weights.

    Example:
        >>> builder = GraphBuilder(cutoff=5.0, dtype=torch.float32)
        >>> # graph = builder(config); graph.head_name -> the configuration's head
    """

    def __init__(
        self,
        cutoff: float,
        heads: Sequence[str] | None = ("Default",),
        dtype: torch.dtype | None = None,
    ) -> None:
        if not cutoff > 0:
            raise ValueError(f"cutoff must be positive, got {cutoff}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in _NUMPY_DTYPES:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if heads is not None:
            heads = [str(h) for h in heads]
            if len(set(heads)) != len(heads) or not heads:
                raise ValueError(f"heads must be a non-empty list of distinct names, got {heads}")
        self.cutoff = float(cutoff)
        self.heads = heads
        self.dtype = dtype
        self._head_index = {h: k for k, h in enumerate(heads or ())}

    def head_index(self, config: Configuration) -> int:
        """Index of ``config.head`` in `heads` (``-1`` without a head list).

        Raises:
            UnknownHeadError: The head is not in the list.
        """
        if self.heads is None:
            return -1
        index = self._head_index.get(config.head)
        if index is None:
            raise UnknownHeadError(
                f"head {config.head!r} is not among the model's heads {self.heads}",
                file=config.source_file,
                frame=config.source_index,
                key="head",
            )
        return index

    def __call__(self, config: Configuration) -> AtomicGraph:
        """Build the graph of one configuration."""
        head = self.head_index(config)
        edge_index, shifts = neighbour_list(config.positions, config.cell, config.pbc, self.cutoff)
        np_dtype = _NUMPY_DTYPES[self.dtype]
        n = config.num_atoms
        # Conversions happen in numpy (cheap for small arrays); torch.from_numpy shares memory.
        # The per-structure scalars (scalar labels, config weight, label weights) go through
        # one array.
        scalar_values = [getattr(config, f.name) for f in _SCALAR_LABELS]
        scalars = torch.from_numpy(
            np.array(
                [
                    *(0.0 if value is None else value for value in scalar_values),
                    config.weight,
                    *(getattr(config, f.weight_name) for f in LABELS),
                ],
                dtype=np_dtype,
            )
        )
        labels: dict[str, torch.Tensor] = {}
        for k, field in enumerate(_SCALAR_LABELS):
            labels[field.name] = scalars[k]
        labels["weight"] = scalars[len(_SCALAR_LABELS)]
        for k, field in enumerate(LABELS, start=len(_SCALAR_LABELS) + 1):
            labels[field.weight_name] = scalars[k]
        for field in _ARRAY_LABELS:
            value = getattr(config, field.name)
            value = (
                np.zeros(field.value_shape(n), dtype=np_dtype)
                if value is None
                else value.astype(np_dtype)
            )
            labels[field.name] = torch.from_numpy(value)
        return AtomicGraph(
            positions=torch.from_numpy(config.positions.astype(np_dtype)),
            atomic_numbers=torch.from_numpy(config.atomic_numbers),
            edge_index=torch.from_numpy(edge_index),
            unit_shifts=torch.from_numpy(shifts.astype(np_dtype)),
            cell=torch.from_numpy(config.cell.astype(np_dtype)),
            pbc=torch.from_numpy(config.pbc),
            head=torch.from_numpy(np.array(head, dtype=np.int64)),
            **labels,
            config_type=config.config_type,
            head_name=config.head,
            source=(config.source_file, config.source_index),
        )


def build_graph(
    config: Configuration,
    *,
    cutoff: float,
    heads: Sequence[str] | None = ("Default",),
    dtype: torch.dtype | None = None,
) -> AtomicGraph:
    """Build the [`AtomicGraph`][mmh_data.AtomicGraph] of one configuration.

    Args:
        config: The configuration.
        cutoff: Neighbour-list cutoff in Å.
        heads: Head names in model order (``None``: the graph carries the name only).
        dtype: Float dtype (default: ``torch.get_default_dtype()``).

    Returns:
        The graph.
    """
    return GraphBuilder(cutoff, heads, dtype)(config)
