"""The multi-head MACE model: shared backbone, one shallow readout per head."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence

import torch
from mmh_data import Batch
from mmh_layers import MACEBackbone, ZBLRepulsion
from mmh_layers._convert import default_dtype

from ._config import ModelConfig
from ._meta import HeadMeta
from ._readout import HeadReadout, scalar_slices


class MultiHeadMACE(torch.nn.Module):
    """MACE backbone with per-head readouts, E0s and scale/shift (paper Eq. 2).

    The per-atom energy of atom ``i`` in a graph of head ``h`` is
    ``E0[h, Z_i] + scale[h] * (readout_h(i) + zbl(i)) + shift[h]``. Heads share the
    backbone and nothing else: each head has its own readout parameters and its own row
    of the ``e0``, ``scale`` and ``shift`` buffers, so changing one head never changes
    another head's predictions, and one batch may mix heads.

    Args:
        config: Hyper-parameters and per-head constants.
        dtype: Float dtype of the parameters (default: torch's default dtype).

    Example:
        >>> from mmh_layers import BackboneConfig
        >>> from mmh_heads import ModelConfig, MultiHeadMACE
        >>> cfg = ModelConfig(BackboneConfig(elements=(1, 8), channels=8, max_ell=2),
        ...                   heads=("pbe", "ccsd"))
        >>> model = MultiHeadMACE(cfg)
        >>> model.heads
        ['pbe', 'ccsd']
    """

    def __init__(self, config: ModelConfig, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        dtype = torch.get_default_dtype() if dtype is None else dtype
        with default_dtype(dtype):
            self.backbone = MACEBackbone(config.backbone)
            self.zbl = ZBLRepulsion(config.zbl_p) if config.zbl else None
        self._zbl_p = config.zbl_p
        self._silu_norm = config.readout_silu_norm
        #: where the model came from, when it was imported (written to the model file)
        self.provenance: dict | None = None
        self.heads: list[str] = list(config.heads)
        #: what each head is (level of theory, dispersion, datasets), by head name
        self.head_meta: dict[str, HeadMeta] = dict(config.head_meta)
        self._first = scalar_slices(self.backbone.irreps_out[0])
        self._last = scalar_slices(self.backbone.irreps_out[-1])
        with default_dtype(dtype):
            self.readouts = torch.nn.ModuleList(
                HeadReadout(
                    self.first_channels, self.last_channels, config.hidden_of(h), self._silu_norm
                )
                for h in self.heads
            )
        elements = config.backbone.elements
        e0 = torch.zeros(len(self.heads), len(elements), dtype=dtype)
        for k, head in enumerate(self.heads):
            table = config.e0s.get(head)
            if table is not None:
                e0[k] = torch.tensor([table[z] for z in elements], dtype=dtype)
        self.register_buffer("e0", e0)
        self.register_buffer(
            "scale", torch.tensor([config.scale.get(h, 1.0) for h in self.heads], dtype=dtype)
        )
        self.register_buffer(
            "shift", torch.tensor([config.shift.get(h, 0.0) for h in self.heads], dtype=dtype)
        )

    # ----------------------------------------------------------------- description
    @property
    def first_channels(self) -> int:
        """Scalar channels of the first layer read by the linear readout."""
        return sum(s.stop - s.start for s in self._first)

    @property
    def last_channels(self) -> int:
        """Scalar channels of the last layer read by the MLP readout."""
        return sum(s.stop - s.start for s in self._last)

    @property
    def elements(self) -> tuple[int, ...]:
        """The element table (atomic numbers)."""
        return self.backbone.config.elements

    @property
    def dtype(self) -> torch.dtype:
        """Float dtype of the parameters."""
        return self.e0.dtype

    @property
    def config(self) -> ModelConfig:
        """The current hyper-parameters, heads, E0s and scale/shift."""
        return ModelConfig(
            backbone=self.backbone.config,
            heads=tuple(self.heads),
            readout_hidden=tuple(r.hidden for r in self.readouts),
            e0s={h: self.head_e0s(h) for h in self.heads},
            scale={h: float(self.scale[k]) for k, h in enumerate(self.heads)},
            shift={h: float(self.shift[k]) for k, h in enumerate(self.heads)},
            zbl=self.zbl is not None,
            zbl_p=self._zbl_p,
            readout_silu_norm=self._silu_norm,
            head_meta={h: m for h, m in self.head_meta.items() if h in self.heads},
        )

    def head_index(self, head: str | int) -> int:
        """Index of ``head`` (a name or an index); raises ``KeyError`` if unknown."""
        if isinstance(head, int):
            if not 0 <= head < len(self.heads):
                raise KeyError(f"head index {head} out of range for heads {self.heads}")
            return head
        if head not in self.heads:
            raise KeyError(f"unknown head {head!r}; the model's heads are {self.heads}")
        return self.heads.index(head)

    def head_indices(
        self, names: Sequence[str], device: torch.device | str | None = None
    ) -> torch.Tensor:
        """This model's head index of each name, ``[len(names)]`` int64.

        Raises:
            KeyError: A name is not one of the model's heads (the message lists them).
        """
        index = {h: k for k, h in enumerate(self.heads)}
        unknown = sorted({n for n in names if n not in index})
        if unknown:
            raise KeyError(
                f"graphs of heads {unknown} are not for this model; its heads are {self.heads}"
            )
        out = torch.tensor([index[n] for n in names], dtype=torch.int64)
        return out if device is None else out.to(device)

    def resolve_heads(self, batch: Batch) -> Batch:
        """The batch with ``head`` set to this model's index of each graph's head name.

        Graphs carry head *names* ([`mmh_data.GraphBuilder`][] needs no head list), so
        the same graph serves any model that has the head; the indices are this model's.
        """
        heads = self.head_indices(batch.head_name, device=batch.head.device)
        return dataclasses.replace(batch, head=heads)

    # ----------------------------------------------------------------- parameter groups
    def readout(self, head: str | int) -> HeadReadout:
        """The readout module of one head (a name or an index)."""
        return self.readouts[self.head_index(head)]

    def head_parameters(self, head: str | int) -> dict[str, torch.nn.Parameter]:
        """The trainable tensors of one head's readout, by name inside the readout.

        These, and the head's rows of the ``e0``, ``scale`` and ``shift`` buffers
        (`head_constants`), are all that belong to one head alone.
        """
        return dict(self.readout(head).named_parameters())

    def head_constants(self, head: str | int) -> dict[str, torch.Tensor]:
        """One head's constants: its rows of the ``e0``, ``scale`` and ``shift`` buffers
        (views; no optimiser trains them)."""
        k = self.head_index(head)
        return {"e0": self.e0[k], "scale": self.scale[k], "shift": self.shift[k]}

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        """The model's parameters by the part they belong to, declared by the model.

        ``backbone.decay`` holds the backbone parameters weight decay applies to
        ([`mmh_layers.MACEBackbone.weight_decay_parameters`][]: linear maps, skip
        connections, product bases), ``backbone.no_decay`` the rest of the backbone,
        ``zbl`` the pair repulsion's (none unless it is made trainable), and
        ``readouts.<head>`` each head's readout. Every parameter is in exactly one group; the
        groups follow the module tree, never parameter names, so renaming a layer changes
        no group. The per-head E0s, scale and shift are buffers (`head_constants`).
        """
        decay = self.backbone.weight_decay_parameters()
        decayed = {id(p) for p in decay}
        groups: dict[str, list[torch.nn.Parameter]] = {
            "backbone.decay": decay,
            "backbone.no_decay": [p for p in self.backbone.parameters() if id(p) not in decayed],
            "zbl": [] if self.zbl is None else list(self.zbl.parameters()),
        }
        for head in self.heads:
            groups[f"readouts.{head}"] = list(self.head_parameters(head).values())
        return groups

    def head_e0s(self, head: str | int) -> dict[int, float]:
        """The E0s of one head, ``{Z: E0}`` in eV."""
        row = self.e0[self.head_index(head)]
        return {z: float(row[k]) for k, z in enumerate(self.elements)}

    def set_e0s(self, head: str | int, e0s: Mapping[int, float]) -> None:
        """Set the E0s of one head; ``e0s`` must give every element of the table."""
        missing = sorted(set(self.elements) - {int(z) for z in e0s})
        if missing:
            raise ValueError(f"E0s missing for elements {missing}")
        k = self.head_index(head)
        with torch.no_grad():
            self.e0[k] = torch.tensor([float(e0s[z]) for z in self.elements], dtype=self.dtype)

    def set_head_meta(self, head: str | int, meta: HeadMeta | Mapping | None) -> None:
        """Set (or, with ``None`` or an empty mapping, clear) the metadata of one head."""
        name = self.heads[self.head_index(head)]
        meta = HeadMeta.from_dict(meta or {})
        if meta:
            self.head_meta[name] = meta
        else:
            self.head_meta.pop(name, None)

    # ----------------------------------------------------------------- heads
    def add_head(
        self,
        name: str,
        init_from: str | int | None = None,
        *,
        e0s: Mapping[int, float] | None = None,
        hidden: int = 16,
        meta: HeadMeta | Mapping | None = None,
    ) -> None:
        """Append a head.

        Args:
            name: The new head's name.
            init_from: Copy this head's readout, E0s and scale/shift, so the new head
                starts with its predictions. ``None``: a freshly initialised readout,
                zero E0s, scale 1 and shift 0.
            e0s: E0s of the new head (replace the copied ones).
            hidden: Hidden size when ``init_from`` is ``None``.
            meta: Metadata of the new head (none is copied from ``init_from``: the new
                head is usually another level of theory).
        """
        if name in self.heads:
            raise ValueError(f"head {name!r} already exists")
        if init_from is None:
            with default_dtype(self.dtype):
                readout = HeadReadout(
                    self.first_channels, self.last_channels, hidden, self._silu_norm
                )
            readout = readout.to(self.e0.device)
            e0 = torch.zeros_like(self.e0[:1])
            scale, shift = torch.ones_like(self.scale[:1]), torch.zeros_like(self.shift[:1])
        else:
            k = self.head_index(init_from)
            readout = copy.deepcopy(self.readouts[k])
            e0, scale, shift = self.e0[k : k + 1], self.scale[k : k + 1], self.shift[k : k + 1]
        self.readouts.append(readout)
        self.heads.append(str(name))
        self.e0 = torch.cat([self.e0, e0.clone()])
        self.scale = torch.cat([self.scale, scale.clone()])
        self.shift = torch.cat([self.shift, shift.clone()])
        if e0s is not None:
            self.set_e0s(name, e0s)
        if meta is not None:
            self.set_head_meta(name, meta)

    def remove_head(self, name: str | int) -> None:
        """Remove a head (the remaining heads keep their predictions; indices shift)."""
        k = self.head_index(name)
        if len(self.heads) == 1:
            raise ValueError("cannot remove the only head")
        keep = [i for i in range(len(self.heads)) if i != k]
        del self.readouts[k]
        self.head_meta.pop(self.heads[k], None)
        del self.heads[k]
        self.e0 = self.e0[keep].clone()
        self.scale = self.scale[keep].clone()
        self.shift = self.shift[keep].clone()

    def extract_head(self, name: str | int) -> MultiHeadMACE:
        """A single-head model with this head's exact predictions (a deep copy)."""
        k = self.head_index(name)
        head = self.heads[k]
        config = dataclasses.replace(
            self.config,
            heads=(head,),
            readout_hidden=(self.readouts[k].hidden,),
            e0s={head: self.head_e0s(k)},
            scale={head: float(self.scale[k])},
            shift={head: float(self.shift[k])},
            head_meta={head: self.head_meta[head]} if head in self.head_meta else {},
        )
        model = MultiHeadMACE(config, dtype=self.dtype).to(self.e0.device)
        model.provenance = copy.deepcopy(self.provenance)
        with torch.no_grad():
            model.backbone.load_state_dict(self.backbone.state_dict())
            model.readouts[0].load_state_dict(self.readouts[k].state_dict())
            model.e0.copy_(self.e0[k : k + 1])
            model.scale.copy_(self.scale[k : k + 1])
            model.shift.copy_(self.shift[k : k + 1])
            if self.zbl is not None:
                model.zbl.load_state_dict(self.zbl.state_dict())
        return model

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        batch: Batch,
        *,
        compute_forces: bool = True,
        compute_stress: bool = True,
        create_graph: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Energies, forces and stress of a [`mmh_data.Batch`][].

        Graphs built without a head list (head index ``-1``) are routed by their head
        names ([`resolve_heads`][mmh_heads.MultiHeadMACE.resolve_heads]). See
        [`compute`][mmh_heads.MultiHeadMACE.compute] for the outputs.
        """
        head = batch.head
        if bool((head < 0).any()):
            head = self.head_indices(batch.head_name, device=head.device)
        return self.compute(
            batch.positions,
            batch.atomic_numbers,
            batch.edge_index,
            batch.unit_shifts,
            batch.cell,
            batch.batch,
            head,
            compute_forces=compute_forces,
            compute_stress=compute_stress,
            create_graph=create_graph,
        )

    def compute(
        self,
        positions: torch.Tensor,
        atomic_numbers: torch.Tensor,
        edge_index: torch.Tensor,
        unit_shifts: torch.Tensor,
        cell: torch.Tensor,
        batch: torch.Tensor,
        head: torch.Tensor,
        *,
        compute_forces: bool = True,
        compute_stress: bool = True,
        create_graph: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Energies, forces and stress from plain tensors.

        Stress and virials use the symmetric displacement: positions and cell are
        deformed by ``1 + (ε + εᵀ)/2`` and ``virials = -∂E/∂ε``,
        ``stress = -virials / volume`` (ASE sign: positive = tensile, eV/Å³). Graphs with
        zero cell volume get zero stress.

        Args:
            positions: ``[N, 3]`` Å.
            atomic_numbers: ``[N]`` int64.
            edge_index: ``[2, E]``, sender row first.
            unit_shifts: ``[E, 3]`` periodic image offsets in cell vectors.
            cell: ``[G, 3, 3]`` rows are lattice vectors.
            batch: ``[N]`` graph index of each atom.
            head: ``[G]`` head index of each graph.
            compute_forces: Return ``forces``.
            compute_stress: Return ``stress`` and ``virials``.
            create_graph: Keep the graph of the derivatives (for force/stress losses).

        Returns:
            ``energy [G]``, ``node_energy [N]`` and, when asked, ``forces [N, 3]``,
            ``virials [G, 3, 3]``, ``stress [G, 3, 3]``.
        """
        num_graphs = cell.shape[0]
        need_grad = compute_forces or compute_stress
        inputs = []
        if need_grad and not positions.requires_grad:
            positions = positions.detach().requires_grad_(True)
        if compute_forces:
            inputs.append(positions)
        pos, cell_def = positions, cell
        if compute_stress:
            strain = torch.zeros(num_graphs, 3, 3, dtype=positions.dtype, device=positions.device)
            strain.requires_grad_(True)
            inputs.append(strain)
            sym = 0.5 * (strain + strain.transpose(1, 2))
            pos = positions + torch.einsum("ni,nij->nj", positions, sym[batch])
            cell_def = cell + torch.bmm(cell, sym)
        sender, receiver = edge_index[0], edge_index[1]
        shifts = torch.einsum("ek,ekl->el", unit_shifts, cell_def[batch[sender]])
        vectors = pos[receiver] - pos[sender] + shifts

        node_energy = self.node_energies(atomic_numbers, vectors, edge_index, head[batch])
        energy = torch.zeros(num_graphs, dtype=node_energy.dtype, device=node_energy.device)
        energy = energy.index_add(0, batch, node_energy)
        out = {"energy": energy, "node_energy": node_energy}
        if need_grad:
            grads = torch.autograd.grad(
                [energy.sum()],
                inputs,
                create_graph=create_graph,
                allow_unused=True,
                materialize_grads=True,
            )
            if compute_forces:
                out["forces"] = -grads[0]
            if compute_stress:
                virials = -grads[-1]
                volume = torch.linalg.det(cell).abs()
                safe = torch.where(volume > 0, volume, torch.ones_like(volume))
                stress = torch.where(
                    (volume > 0)[:, None, None], -virials / safe[:, None, None], 0.0
                )
                out["virials"] = virials
                out["stress"] = stress
        return out

    def node_energies(
        self,
        atomic_numbers: torch.Tensor,
        edge_vectors: torch.Tensor,
        edge_index: torch.Tensor,
        node_head: torch.Tensor,
    ) -> torch.Tensor:
        """Per-atom energies ``[N]`` (E0s included) given each atom's head index."""
        feats = self.backbone(atomic_numbers, edge_vectors, edge_index)
        first = torch.cat([feats[0][:, s] for s in self._first], dim=1)
        last = torch.cat([feats[-1][:, s] for s in self._last], dim=1)
        per_head = torch.stack([r(first, last) for r in self.readouts], dim=1)
        inter = per_head.gather(1, node_head[:, None]).squeeze(1)
        if self.zbl is not None:
            lengths = torch.linalg.vector_norm(edge_vectors, dim=-1, keepdim=True)
            inter = inter + self.zbl(lengths, atomic_numbers, edge_index)
        species = self.backbone.species(atomic_numbers)
        return self.e0[node_head, species] + self.scale[node_head] * inter + self.shift[node_head]
