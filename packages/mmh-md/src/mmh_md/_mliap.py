"""An ML-IAP "unified" class of mmh models, for LAMMPS builds with ML-IAP's Python
coupling (``pair_style mliap unified``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers
from mmh_ase import MMHCalculator
from mmh_heads import MultiHeadMACE

try:
    from lammps.mliap.mliap_unified_abc import MLIAPUnified
except ImportError as exc:  # pragma: no cover - exercised only without lammps
    raise ImportError(
        'MMHMliapUnified needs the LAMMPS Python module: pip install "mmh-md[lammps]" '
        f"(import failed with: {exc})"
    ) from exc

__all__ = ["MMHMliapUnified"]


def _as_tensor(array: Any, device: torch.device, dtype: torch.dtype | None = None):
    tensor = torch.as_tensor(np.asarray(array) if not torch.is_tensor(array) else array)
    return tensor.to(device=device, dtype=dtype or tensor.dtype)


class MMHMliapUnified(MLIAPUnified):
    """One head of an mmh model as an ML-IAP "unified" model of LAMMPS.

    LAMMPS supplies, per step, the pair vectors ``rij = x_j - x_i`` of its neighbour list
    (``pair_i``, ``pair_j`` index local and ghost atoms, ``elems`` gives each atom's index
    into `element_types`). The model's graph is those pairs; the energy is the sum
    of the per-atom energies of the local atoms; the pair forces handed back are
    ``dE/drij`` (LAMMPS adds them to atom ``i`` and subtracts them from atom ``j``,
    tallies the virial from them, and sends ghost forces to their owners).

    mmh models pass messages over ``num_interactions`` layers, so the features of ghost
    atoms near the local ones must be right: the pair list must include the pairs of the
    ghost atoms within ``(num_interactions - 1) * r_max`` of local atoms (a neighbour list
    over ghosts, and a ghost cutoff of at least ``num_interactions * r_max``). A
    multi-layer model given pairs of local atoms only, while ghosts exist, raises an
    error instead of returning wrong forces. The cutoff LAMMPS uses is
    ``2 * rcutfac = r_max``.

    Args:
        model: A model file, a [`MultiHeadMACE`][mmh_heads.MultiHeadMACE] or an
            [`MMHCalculator`][mmh_ase.MMHCalculator].
        head: The head (a multi-head model needs one; errors as the calculator's).
        element_types: The element of each ML-IAP element index (LAMMPS maps atom types
            to them with ``pair_coeff * * Na Cl``), e.g. ``["Na", "Cl"]``.
        dtype: ``"float64"`` (default) or ``"float32"``.
        device: Torch device (``"cuda"`` with a Kokkos build).

    Raises:
        mmh_ase.HeadSelectionError: Unknown head, or no head for a multi-head model.
        mmh_data.UnknownElementError: An element type outside the model's table.
        ValueError: An element type that is not an element.

    Example:
        >>> unified = MMHMliapUnified("model.safetensors", "pbe", element_types=["Na", "Cl"])
        ...  # doctest: +SKIP
        >>> unified.pickle("mmh-pbe.pkl")  # for: pair_style mliap unified mmh-pbe.pkl 0
        ...  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | Path | MultiHeadMACE | MMHCalculator,
        head: str | None = None,
        *,
        element_types: Sequence[str],
        dtype: str | torch.dtype | None = "float64",
        device: str | torch.device = "cpu",
    ) -> None:
        if isinstance(model, MMHCalculator):
            calc = model
        else:
            calc = MMHCalculator(model, head, dtype=dtype, device=device)
        if calc.dispersion is not None:
            raise ValueError("dispersion is not supported by the ML-IAP class")
        unknown = [e for e in element_types if e not in atomic_numbers]
        if unknown or len(element_types) == 0:
            raise ValueError(
                f"element_types must be element symbols, one per ML-IAP element, got "
                f"{list(element_types)}"
            )
        numbers = [atomic_numbers[e] for e in element_types]
        calc.check_elements(Atoms(numbers=numbers))
        super().__init__(
            None, list(element_types), ndescriptors=1, nparams=1, rcutfac=0.5 * calc.r_max
        )
        self.model: MultiHeadMACE = calc.model
        self.head: str = calc.head
        self.head_index: int = calc.heads.index(calc.head)
        self.dtype: torch.dtype = calc.dtype
        self.device: torch.device = calc.device
        self.num_layers: int = int(self.model.backbone.config.num_interactions)
        self._numbers = torch.tensor(numbers, dtype=torch.int64, device=self.device)

    def compute_descriptors(self, data: Any) -> None:
        """Not used: the model computes its own features from the pair vectors."""

    def compute_gradients(self, data: Any) -> None:
        """Unused: [`compute_forces`][mmh_md._mliap.MMHMliapUnified.compute_forces] gives forces."""

    def _atom_numbers(self, data: Any, ntotal: int) -> torch.Tensor:
        elems = _as_tensor(data.elems, self.device, torch.int64)
        if elems.numel() < ntotal:  # elements of the list atoms only: ghosts via pairs
            full = torch.full((ntotal,), -1, dtype=torch.int64, device=self.device)
            full[: elems.numel()] = elems
            pair_j = _as_tensor(data.pair_j, self.device, torch.int64)
            full[pair_j] = _as_tensor(data.jelems, self.device, torch.int64)
            elems = full
        elems = elems[:ntotal]
        bad = (elems < 0) | (elems >= len(self.element_types))
        if bool(bad.any()):
            raise ValueError(
                f"ML-IAP element indices {sorted(set(elems[bad].tolist()))} outside "
                f"element_types {self.element_types}; map every LAMMPS atom type with "
                "pair_coeff * * <element> ..."
            )
        return self._numbers[elems]

    def compute_forces(self, data: Any) -> None:
        """Energy, per-atom energies and pair forces of one LAMMPS step (see the class)."""
        nlocal = int(data.nlocal)
        ntotal = int(data.ntotal)
        pair_i = _as_tensor(data.pair_i, self.device, torch.int64)
        pair_j = _as_tensor(data.pair_j, self.device, torch.int64)
        if (
            self.num_layers > 1
            and ntotal > nlocal
            and pair_i.numel()
            and int(pair_i.max()) < nlocal
        ):
            raise RuntimeError(
                f"the model passes messages over {self.num_layers} layers, but the pair list "
                "has pairs of local atoms only: ghost atoms would have wrong features. Give "
                "ML-IAP a neighbour list over ghost atoms, with a ghost cutoff of at least "
                f"{self.num_layers * 2 * self.rcutfac:g} Å"
            )
        numbers = self._atom_numbers(data, ntotal)
        rij = _as_tensor(data.rij, self.device, self.dtype).detach().requires_grad_(True)
        edge_index = torch.stack([pair_i, pair_j])
        node_head = torch.full((ntotal,), self.head_index, dtype=torch.int64, device=self.device)
        node = self.model.node_energies(numbers, rij, edge_index, node_head)
        local = node[:nlocal]
        energy = local.sum()
        (pair_forces,) = torch.autograd.grad(energy, [rij])
        eatoms = local.detach().to(torch.float64)
        data.energy = float(eatoms.sum())
        self._write_eatoms(data, eatoms)
        if hasattr(data, "update_pair_forces_gpu") and self.device.type == "cuda":
            data.update_pair_forces_gpu(pair_forces.detach().to(torch.float64))
        else:
            data.update_pair_forces(pair_forces.detach().to("cpu", torch.float64).numpy())

    @staticmethod
    def _write_eatoms(data: Any, eatoms: torch.Tensor) -> None:
        target = getattr(data, "eatoms", None)
        if target is None:
            return
        if torch.is_tensor(target):
            target[: eatoms.numel()] = eatoms.to(target.device, target.dtype)
        else:
            np.asarray(target)[: eatoms.numel()] = eatoms.cpu().numpy()
