"""An mmh model on batched tensors (positions, cells, system index), for MD engines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from mmh_ase import MMHCalculator
from mmh_data import neighbour_list
from mmh_heads import MultiHeadMACE

from ._neighbours import torch_neighbour_list

__all__ = ["MMHPotential"]

_NEIGHBOUR_LISTS = ("torch", "vesin")


class MMHPotential:
    """One head of an mmh model evaluated on many systems at once, from plain tensors.

    This is the engine-neutral core of the torch-sim model and the LAMMPS couplings:
    positions of all atoms of all systems, one cell and periodicity per system, and the
    system index of each atom go in; energies, forces, stress and virials come out, from
    one forward and one backward pass. The model is loaded (and the head chosen, with the
    same errors) exactly as [`mmh_ase.MMHCalculator`][] does, so results agree with it.

    Args:
        model: A model file, a [`MultiHeadMACE`][mmh_heads.MultiHeadMACE] or an
            [`MMHCalculator`][mmh_ase.MMHCalculator] (whose model, head, dtype and device are used;
            dispersion is not supported here).
        head: The head to evaluate (a multi-head model needs one).
        dtype: ``"float32"`` or ``"float64"`` (or a torch dtype); ``None`` keeps the
            model's.
        device: Torch device of the model and of the neighbour list.
        neighbour_list: ``"torch"`` (default) builds the neighbour list with torch on the
            model's device; ``"vesin"`` builds it on the CPU with `mmh_data`'s vesin
            list (faster for large systems on a CPU).

    Raises:
        mmh_ase.HeadSelectionError: Unknown head, or no head for a multi-head model.
        ValueError: Dispersion asked for, or an unknown neighbour list.
    """

    def __init__(
        self,
        model: str | Path | MultiHeadMACE | MMHCalculator,
        head: str | None = None,
        *,
        dtype: str | torch.dtype | None = None,
        device: str | torch.device = "cpu",
        neighbour_list: str = "torch",
    ) -> None:
        if neighbour_list not in _NEIGHBOUR_LISTS:
            raise ValueError(
                f"neighbour_list must be one of {_NEIGHBOUR_LISTS}, got {neighbour_list!r}"
            )
        if isinstance(model, MMHCalculator):
            if head is not None or dtype is not None:
                raise ValueError(
                    "an MMHCalculator brings its own head and dtype; pass a model file or "
                    "model to choose them"
                )
            calc = model
        else:
            calc = MMHCalculator(model, head, dtype=dtype, device=device)
        if calc.dispersion is not None:
            raise ValueError("dispersion is not supported by MMHPotential; use MMHCalculator")
        self.calculator = calc
        self.model: MultiHeadMACE = calc.model
        self.head: str = calc.head
        self.head_index: int = calc.heads.index(calc.head)
        self.dtype: torch.dtype = calc.dtype
        self.device: torch.device = calc.device
        self.r_max: float = calc.r_max
        self.neighbour_list = neighbour_list
        self._checked: torch.Tensor | None = None

    def check_numbers(self, atomic_numbers: torch.Tensor) -> None:
        """Raise [`mmh_data.UnknownElementError`][] (the calculator's message) if an
        atomic number is outside the model's element table."""
        if self._checked is not None and torch.equal(self._checked, atomic_numbers):
            return
        numbers = torch.unique(atomic_numbers).cpu().tolist()
        self.calculator.check_elements(Atoms(numbers=numbers))
        self._checked = atomic_numbers.clone()

    def edges(
        self, positions: torch.Tensor, cell: torch.Tensor, pbc: torch.Tensor, ptr: list[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge index (into all atoms) and unit shifts of every system, concatenated."""
        edge_parts, shift_parts = [], []
        for g in range(len(ptr) - 1):
            lo, hi = ptr[g], ptr[g + 1]
            if self.neighbour_list == "torch":
                ei, shifts = torch_neighbour_list(
                    positions[lo:hi].detach(), cell[g].detach(), pbc[g], self.r_max
                )
            else:
                ei_np, shifts_np = neighbour_list(
                    positions[lo:hi].detach().cpu().double().numpy(),
                    cell[g].detach().cpu().double().numpy(),
                    pbc[g].cpu().numpy(),
                    self.r_max,
                )
                ei = torch.from_numpy(ei_np).to(self.device)
                shifts = torch.from_numpy(shifts_np).to(self.device)
            edge_parts.append(ei + lo)
            shift_parts.append(shifts)
        return torch.cat(edge_parts, dim=1), torch.cat(shift_parts).to(self.dtype)

    def __call__(
        self,
        positions: torch.Tensor,
        cell: torch.Tensor,
        pbc: torch.Tensor | bool,
        atomic_numbers: torch.Tensor,
        system_idx: torch.Tensor | None = None,
        *,
        compute_forces: bool = True,
        compute_stress: bool = True,
    ) -> dict[str, torch.Tensor]:
        """Energies, forces and stress of the systems.

        Args:
            positions: ``[N, 3]`` Å, all systems, each system's atoms contiguous.
            cell: ``[G, 3, 3]`` (or ``[3, 3]`` for one system), lattice vectors as rows.
            pbc: ``[G, 3]``, ``[3]`` or one bool.
            atomic_numbers: ``[N]``.
            system_idx: ``[N]`` system of each atom, non-decreasing (default: one system).
            compute_forces: Return ``forces``.
            compute_stress: Return ``stress`` and ``virials`` (zero for a zero-volume cell).

        Returns:
            ``energy [G]`` (eV, per-atom energies summed in float64, then cast to the
            model's dtype), ``node_energy [N]``, and when asked ``forces [N, 3]`` (eV/Å),
            ``stress [G, 3, 3]`` (eV/Å³, ASE sign: positive = tensile) and
            ``virials [G, 3, 3]`` (eV, ``-dE/dε``), detached, on the model's device.

        Raises:
            mmh_data.UnknownElementError: An element outside the model's table.
        """
        device, dtype = self.device, self.dtype
        positions = positions.to(device=device, dtype=dtype)
        cell = cell.to(device=device, dtype=dtype)
        if cell.ndim == 2:
            cell = cell[None]
        num_systems = cell.shape[0]
        atomic_numbers = atomic_numbers.to(device=device, dtype=torch.int64)
        if system_idx is None:
            system_idx = torch.zeros(positions.shape[0], dtype=torch.int64, device=device)
        system_idx = system_idx.to(device=device, dtype=torch.int64)
        pbc = torch.as_tensor(pbc, dtype=torch.bool, device=device)
        if pbc.ndim < 2:
            pbc = pbc.reshape(-1).expand(3).expand(num_systems, 3)
        self.check_numbers(atomic_numbers)
        counts = torch.bincount(system_idx, minlength=num_systems)
        if counts.shape[0] != num_systems:
            raise ValueError(
                f"system_idx names {counts.shape[0]} systems, but {num_systems} cells given"
            )
        if system_idx.numel() > 1 and bool((system_idx[1:] < system_idx[:-1]).any()):
            raise ValueError("the atoms of each system must be contiguous (sorted system_idx)")
        ptr = [0, *np.cumsum(counts.cpu().numpy()).tolist()]
        edge_index, unit_shifts = self.edges(positions, cell, pbc, ptr)
        head = torch.full((num_systems,), self.head_index, dtype=torch.int64, device=device)
        out = self.model.compute(
            positions,
            atomic_numbers,
            edge_index,
            unit_shifts,
            cell,
            system_idx,
            head,
            compute_forces=compute_forces,
            compute_stress=compute_stress,
        )
        node = out["node_energy"].detach()
        energy = torch.zeros(num_systems, dtype=torch.float64, device=device)
        energy = energy.index_add(0, system_idx, node.to(torch.float64))
        result = {"energy": energy.to(dtype), "node_energy": node}
        for key in ("forces", "stress", "virials"):
            if key in out:
                result[key] = out[key].detach()
        return result
