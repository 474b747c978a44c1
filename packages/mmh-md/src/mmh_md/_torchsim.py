"""The torch-sim ``ModelInterface`` of mmh models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from mmh_ase import MMHCalculator
from mmh_heads import MultiHeadMACE

try:
    import torch_sim as ts
    from torch_sim.models.interface import ModelInterface
except ImportError as exc:  # pragma: no cover - exercised only without torch-sim
    raise ImportError(
        "MMHTorchSimModel needs torch-sim: pip install torch-sim-atomistic "
        f"(import failed with: {exc})"
    ) from exc

from ._potential import MMHPotential

__all__ = ["MMHTorchSimModel"]


class MMHTorchSimModel(ModelInterface):
    """An mmh model (one head) as a torch-sim model: batched energies, forces and stress.

    Every system of a `torch_sim.SimState` is evaluated in one model call; the
    neighbour list is built with torch on the model's device (or with vesin on the CPU,
    ``neighbour_list="vesin"``). Units are torch-sim's metal units (eV, Å); stress is
    ``[n_systems, 3, 3]`` eV/Å³ with the sign of ASE and of torch-sim's other models
    (positive = tensile).

    Args:
        model: A model file, a [`MultiHeadMACE`][mmh_heads.MultiHeadMACE] or an
            [`MMHCalculator`][mmh_ase.MMHCalculator].
        head: The head (a multi-head model needs one; errors as the calculator's:
            [`mmh_ase.HeadSelectionError`][]).
        device: Torch device (default: CUDA when available, else CPU).
        dtype: ``torch.float64`` (default, torch-sim's) or ``torch.float32``.
        compute_forces: Return forces.
        compute_stress: Return stress (needed by cell relaxation and NPT).
        neighbour_list: ``"torch"`` or ``"vesin"`` (see [`MMHPotential`][mmh_md.MMHPotential]).

    Example:
        >>> import torch_sim as ts
        >>> from ase.build import bulk
        >>> model = MMHTorchSimModel("model.safetensors", head="pbe")  # doctest: +SKIP
        >>> state = ts.io.atoms_to_state([bulk("Cu") * 3] * 4, model.device, model.dtype)
        ...  # doctest: +SKIP
        >>> model(state)["energy"].shape  # doctest: +SKIP
        torch.Size([4])
    """

    def __init__(
        self,
        model: str | Path | MultiHeadMACE | MMHCalculator,
        head: str | None = None,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64,
        compute_forces: bool = True,
        compute_stress: bool = True,
        neighbour_list: str = "torch",
    ) -> None:
        super().__init__()
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if isinstance(model, MMHCalculator):
            self.potential = MMHPotential(model, neighbour_list=neighbour_list)
        else:
            self.potential = MMHPotential(
                model, head, dtype=dtype, device=device, neighbour_list=neighbour_list
            )
        self._device = self.potential.device
        self._dtype = self.potential.dtype
        self._compute_forces = bool(compute_forces)
        self._compute_stress = bool(compute_stress)
        self._memory_scales_with = "n_atoms_x_density"

    @property
    def head(self) -> str:
        """The evaluated head."""
        return self.potential.head

    def forward(self, state: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """Energies ``[n_systems]``, forces ``[n_atoms, 3]`` and stress
        ``[n_systems, 3, 3]`` of a `torch_sim.SimState` (or a state dict with
        ``positions``, ``cell``, ``pbc``, ``atomic_numbers`` and ``system_idx``).

        The state is not modified.

        Raises:
            mmh_data.UnknownElementError: An element outside the model's table.
        """
        if isinstance(state, dict):
            state = ts.SimState(**state, masses=torch.ones_like(state["positions"][:, 0]))
        if state.atomic_numbers is None:
            raise ValueError("the state has no atomic_numbers; mmh models need them")
        out = self.potential(
            state.positions,
            state.row_vector_cell,
            state.pbc,
            state.atomic_numbers,
            state.system_idx,
            compute_forces=self._compute_forces,
            compute_stress=self._compute_stress,
        )
        result = {"energy": out["energy"]}
        if self._compute_forces:
            result["forces"] = out["forces"]
        if self._compute_stress:
            result["stress"] = out["stress"]
        return result
