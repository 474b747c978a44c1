"""Many graphs in one set of tensors: [`mmh_data.Batch`][] and [`collate`][mmh_data.collate]."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ._errors import EmptyDatasetError
from ._fields import LABELS
from ._graph import AtomicGraph

__all__ = ["Batch", "collate"]


@dataclass(eq=False)
class Batch:
    """A batch of ``G`` graphs with ``N`` atoms and ``E`` edges in total.

    The field names are the interface to the model packages. Float fields share one dtype
    (float32 or float64). Labels that a structure does not have are zeros and their weight
    is 0.

    Attributes:
        positions: ``[N, 3]``.
        atomic_numbers: ``[N]`` int64.
        edge_index: ``[2, E]`` int64, row 0 sender ``i``, row 1 receiver ``j``, indices
            into the batch's atoms.
        unit_shifts: ``[E, 3]`` integer cell offsets stored in the float dtype.
        cell: ``[G, 3, 3]`` (zeros for non-periodic structures).
        pbc: ``[G, 3]`` bool.
        batch: ``[N]`` int64, graph index of each atom.
        ptr: ``[G + 1]`` int64, atom offsets of the graphs.
        num_atoms: ``[G]`` int64.
        head: ``[G]`` int64, index into the head list of the graph builder (``-1``: built
            without one; the model resolves `head_name`).
        energy: ``[G]``.
        forces: ``[N, 3]``.
        stress: ``[G, 3, 3]``.
        weight: ``[G]`` config weights.
        energy_weight: ``[G]``.
        forces_weight: ``[G]``.
        stress_weight: ``[G]``.
        config_type: ``G`` configuration types.
        head_name: ``G`` head names.
        source: ``G`` ``(file, frame)`` pairs.
    """

    positions: torch.Tensor
    atomic_numbers: torch.Tensor
    edge_index: torch.Tensor
    unit_shifts: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    batch: torch.Tensor
    ptr: torch.Tensor
    num_atoms: torch.Tensor
    head: torch.Tensor
    energy: torch.Tensor
    forces: torch.Tensor
    stress: torch.Tensor
    weight: torch.Tensor
    energy_weight: torch.Tensor
    forces_weight: torch.Tensor
    stress_weight: torch.Tensor
    config_type: list[str] = field(default_factory=list)
    head_name: list[str] = field(default_factory=list)
    source: list[tuple[str | None, int | None]] = field(default_factory=list)

    @property
    def num_graphs(self) -> int:
        """Number of graphs ``G``."""
        return int(self.ptr.shape[0] - 1)

    @property
    def num_edges(self) -> int:
        """Number of edges ``E``."""
        return int(self.edge_index.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        """Float dtype."""
        return self.positions.dtype

    @property
    def device(self) -> torch.device:
        """Device of the tensors."""
        return self.positions.device

    def _map(self, fn) -> Batch:
        changes = {
            f.name: fn(f.name, getattr(self, f.name))
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return dataclasses.replace(self, **changes)

    def to(
        self,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        non_blocking: bool = False,
    ) -> Batch:
        """Move to a device and/or cast the float fields to ``dtype``.

        Args:
            device: Target device.
            dtype: Target float dtype (integer and bool fields keep theirs).
            non_blocking: Passed to `torch.Tensor.to`.

        Returns:
            A new [`Batch`][mmh_data.Batch] (tensors already in place are not copied).
        """

        def move(_name: str, t: torch.Tensor) -> torch.Tensor:
            target = dtype if (dtype is not None and t.is_floating_point()) else t.dtype
            return t.to(device=device, dtype=target, non_blocking=non_blocking)

        return self._map(move)

    def pin_memory(self) -> Batch:
        """Pinned-memory copy (used by ``DataLoader(pin_memory=True)``)."""
        return self._map(lambda _n, t: t.pin_memory())

    def __reduce__(self):
        # DataLoader workers send batches to the main process by pickling. torch would put
        # each of the ~20 small tensors in its own shared-memory segment; packing them into
        # two numpy buffers sent as bytes is several times faster for batches of small
        # graphs. GPU or autograd tensors are pickled field by field.
        tensors = [v for v in vars(self).values() if isinstance(v, torch.Tensor)]
        if all(t.device.type == "cpu" and not t.requires_grad for t in tensors):
            return (_unpack, _pack(self))
        return (_from_fields, (dict(vars(self)),))

    def edge_vectors(self) -> torch.Tensor:
        """Edge vectors ``positions[j] - positions[i] + unit_shifts @ cell[graph]``, ``[E, 3]``.

        Differentiable with respect to `positions` and `cell`.
        """
        i, j = self.edge_index
        cell = self.cell[self.batch[i]]
        shifts = torch.einsum("ek,ekl->el", self.unit_shifts, cell)
        return self.positions[j] - self.positions[i] + shifts


#: Per-structure scalars: the scalar labels, the config weight and the label weights.
_SCALARS = (
    *(f.name for f in LABELS if not f.per_atom and f.shape == ()),
    "weight",
    *(f.weight_name for f in LABELS),
)
_ATOM_LABELS = tuple(f.name for f in LABELS if f.per_atom)
_STRUCTURE_ARRAYS = tuple(f.name for f in LABELS if not f.per_atom and f.shape != ())
_PACKED_FLOAT = ("positions", "unit_shifts", "cell", *_SCALARS, *_ATOM_LABELS, *_STRUCTURE_ARRAYS)
_PACKED_INT = ("atomic_numbers", "edge_index", "batch", "ptr", "num_atoms", "head", "pbc")


def _from_fields(fields: dict) -> Batch:
    return Batch(**fields)


def _pack(batch: Batch) -> tuple:
    floats = [getattr(batch, name) for name in _PACKED_FLOAT]
    ints = [getattr(batch, name) for name in _PACKED_INT]
    float_buf = torch.cat([t.reshape(-1) for t in floats]).numpy()
    int_buf = torch.cat([t.reshape(-1).to(torch.int64) for t in ints]).numpy()
    shapes = [tuple(t.shape) for t in floats + ints]
    lists = (batch.config_type, batch.head_name, batch.source)
    return float_buf, int_buf, shapes, lists


def _unpack(float_np: np.ndarray, int_np: np.ndarray, shapes: list, lists: tuple) -> Batch:
    float_buf, int_buf = torch.from_numpy(float_np), torch.from_numpy(int_np)
    fields: dict[str, object] = {}
    offsets = {"float": 0, "int": 0}
    for name, shape in zip(_PACKED_FLOAT + _PACKED_INT, shapes, strict=True):
        kind, buf = ("float", float_buf) if name in _PACKED_FLOAT else ("int", int_buf)
        size = int(np.prod(shape, dtype=np.int64))
        start = offsets[kind]
        offsets[kind] = start + size
        tensor = buf[start : start + size].view(shape)
        fields[name] = tensor.bool() if name == "pbc" else tensor
    config_type, head_name, source = lists
    return Batch(**fields, config_type=config_type, head_name=head_name, source=source)


def collate(graphs: Sequence[AtomicGraph], dtype: torch.dtype | None = None) -> Batch:
    """Concatenate graphs into a [`Batch`][mmh_data.Batch].

    Args:
        graphs: The graphs (any number ≥ 1; heads may be mixed).
        dtype: Float dtype of the batch; ``None`` keeps the graphs' dtype (they must agree).

    Returns:
        The batch, on the CPU (or wherever the graphs are).

    Raises:
        EmptyDatasetError: ``graphs`` is empty.
        ValueError: The graphs have different float dtypes and ``dtype`` is ``None``.
    """
    if len(graphs) == 0:
        raise EmptyDatasetError("cannot collate an empty list of graphs")
    if dtype is None:
        dtype = graphs[0].positions.dtype
        if any(g.positions.dtype != dtype for g in graphs):
            raise ValueError("graphs have different float dtypes; pass dtype= to collate")
    # Index bookkeeping in numpy: tiny arrays, no thread-pool start-up per call.
    n_np = np.fromiter((g.atomic_numbers.shape[0] for g in graphs), np.int64, len(graphs))
    e_np = np.fromiter((g.edge_index.shape[1] for g in graphs), np.int64, len(graphs))
    ptr_np = np.zeros(len(graphs) + 1, dtype=np.int64)
    np.cumsum(n_np, out=ptr_np[1:])
    num_atoms = torch.from_numpy(n_np)
    ptr = torch.from_numpy(ptr_np)
    batch_index = torch.from_numpy(np.repeat(np.arange(len(graphs), dtype=np.int64), n_np))
    edge_index = torch.cat([g.edge_index for g in graphs], dim=1)
    edge_index += torch.from_numpy(np.repeat(ptr_np[:-1], e_np))
    scalars = torch.stack(
        [torch.stack([getattr(g, name) for name in _SCALARS]) for g in graphs]
    ).to(dtype)

    def cat(name: str) -> torch.Tensor:
        return torch.cat([getattr(g, name) for g in graphs]).to(dtype)

    def stack(name: str) -> torch.Tensor:
        return torch.stack([getattr(g, name) for g in graphs]).to(dtype)

    return Batch(
        positions=cat("positions"),
        atomic_numbers=torch.cat([g.atomic_numbers for g in graphs]),
        edge_index=edge_index,
        unit_shifts=cat("unit_shifts"),
        cell=stack("cell"),
        pbc=torch.stack([g.pbc for g in graphs]),
        batch=batch_index,
        ptr=ptr,
        num_atoms=num_atoms,
        head=torch.stack([g.head for g in graphs]),
        **{name: scalars[:, k].contiguous() for k, name in enumerate(_SCALARS)},
        **{name: cat(name) for name in _ATOM_LABELS},
        **{name: stack(name) for name in _STRUCTURE_ARRAYS},
        config_type=[g.config_type for g in graphs],
        head_name=[g.head_name for g in graphs],
        source=[g.source for g in graphs],
    )
