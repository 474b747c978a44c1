"""Batched evaluation: many structures in, per-structure energies, forces and stress out,
with few model calls."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.stress import full_3x3_to_voigt_6_stress
from mmh_data import Configuration, collate
from mmh_heads import MultiHeadMACE

from ._calculator import MMHCalculator

__all__ = ["BatchEvaluator", "evaluate_structures"]


class BatchEvaluator:
    """Energies, forces and stress of many structures, several structures per model call.

    The structures are cut into consecutive chunks of at most ``max_atoms`` atoms (a
    structure larger than that is a chunk of its own); each chunk is one
    [`mmh_data.Batch`][] and one forward and backward pass of the model. The results
    equal [`MMHCalculator`][mmh_ase.MMHCalculator]'s, structure by structure (same model, head,
    dtype, device and dispersion), to floating-point summation order.

    Args:
        model: A model file, a [`MultiHeadMACE`][mmh_heads.MultiHeadMACE] or an
            [`MMHCalculator`][mmh_ase.MMHCalculator] whose model, head, dtype, device and dispersion
            are used (then ``head`` and ``calculator_options`` must not be given).
        head: The head to evaluate, as for [`MMHCalculator`][mmh_ase.MMHCalculator] (a multi-head
            model needs one; an unknown head raises
            [`HeadSelectionError`][mmh_ase.HeadSelectionError]).
        max_atoms: Most atoms in one model call.
        **calculator_options: ``dtype``, ``device``, ``dispersion``, ... of
            [`MMHCalculator`][mmh_ase.MMHCalculator].

    Example:
        >>> from ase.build import bulk, molecule
        >>> evaluate = BatchEvaluator("model.safetensors", head="pbe")  # doctest: +SKIP
        >>> results = evaluate([molecule("H2O"), bulk("Cu") * 2])  # doctest: +SKIP
        >>> water, copper = results  # doctest: +SKIP
        >>> copper["energy"], copper["stress"]  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | Path | MultiHeadMACE | MMHCalculator,
        head: str | None = None,
        *,
        max_atoms: int = 4096,
        **calculator_options: Any,
    ) -> None:
        if isinstance(model, MMHCalculator):
            if head is not None or calculator_options:
                raise ValueError(
                    "an MMHCalculator brings its own head and options; pass a model file or "
                    "model to choose them"
                )
            self.calculator = model
        else:
            self.calculator = MMHCalculator(model, head, **calculator_options)
        if int(max_atoms) < 1:
            raise ValueError(f"max_atoms must be at least 1, got {max_atoms}")
        self.max_atoms = int(max_atoms)

    @property
    def head(self) -> str:
        """The evaluated head."""
        return self.calculator.head

    def chunks(self, structures: Sequence[Atoms]) -> Iterator[list[int]]:
        """Indices of the structures of each model call, in order."""
        chunk: list[int] = []
        atoms_in_chunk = 0
        for k, atoms in enumerate(structures):
            n = len(atoms)
            if chunk and atoms_in_chunk + n > self.max_atoms:
                yield chunk
                chunk, atoms_in_chunk = [], 0
            chunk.append(k)
            atoms_in_chunk += n
        if chunk:
            yield chunk

    def __call__(self, structures: Sequence[Atoms]) -> list[dict[str, Any]]:
        """Evaluate ``structures``.

        Args:
            structures: ASE structures (not modified; their calculators are not used).

        Returns:
            One dict per structure, in order, with the keys of
            [`MMHCalculator`][mmh_ase.MMHCalculator]'s results: ``energy``, ``free_energy`` (eV),
            ``forces`` ``[N, 3]`` (eV/Å), ``energies`` and ``node_energy`` ``[N]`` and,
            for a structure with a three-dimensional cell, ``stress`` (Voigt, eV/Å³,
            ASE sign). With dispersion, ``energies`` is left out, as the calculator does
            unless asked.

        Raises:
            mmh_data.UnknownElementError: A structure has an element outside the
                model's table (checked for every structure before any model call).
        """
        structures = list(structures)
        calc = self.calculator
        for atoms in structures:
            calc.check_elements(atoms)
        results: list[dict[str, Any]] = []
        for chunk in self.chunks(structures):
            results.extend(self._evaluate_chunk([structures[k] for k in chunk]))
        return results

    def _evaluate_chunk(self, structures: list[Atoms]) -> list[dict[str, Any]]:
        calc = self.calculator
        graphs = [
            calc._builder(
                Configuration(
                    atomic_numbers=atoms.numbers,
                    positions=atoms.positions,
                    cell=np.asarray(atoms.cell.array),
                    pbc=np.asarray(atoms.pbc),
                    head=calc.head,
                )
            )
            for atoms in structures
        ]
        batch = collate(graphs).to(device=calc.device)
        want_stress = any(atoms.cell.rank == 3 for atoms in structures)
        out = calc.evaluate(batch, forces=True, stress=want_stress)
        node = out["node_energy"].detach().to("cpu", torch.float64).numpy()
        forces = out["forces"].detach().to("cpu", torch.float64).numpy()
        e0 = calc._e0(batch.atomic_numbers)
        stress = out["stress"].detach().to("cpu", torch.float64).numpy() if want_stress else None
        ptr = batch.ptr.tolist()
        results = []
        for g, atoms in enumerate(structures):
            lo, hi = ptr[g], ptr[g + 1]
            energies = node[lo:hi].copy()
            result: dict[str, Any] = {
                "energy": float(energies.sum()),
                "forces": forces[lo:hi].copy(),
                "energies": energies,
                "node_energy": energies - e0[lo:hi],
            }
            has_stress = atoms.cell.rank == 3
            if has_stress:
                result["stress"] = full_3x3_to_voigt_6_stress(stress[g])
            if calc.dispersion is not None:
                disp = calc.dispersion.calculate(
                    atoms, forces=True, stress=has_stress, energies=False
                )
                result["energy"] += disp["energy"]
                result["forces"] = result["forces"] + disp["forces"]
                if has_stress:
                    result["stress"] = result["stress"] + disp["stress"]
                del result["energies"]
            result["free_energy"] = result["energy"]
            results.append(result)
        return results


def evaluate_structures(
    model: str | Path | MultiHeadMACE | MMHCalculator,
    structures: Sequence[Atoms],
    head: str | None = None,
    *,
    max_atoms: int = 4096,
    **calculator_options: Any,
) -> list[dict[str, Any]]:
    """Evaluate many structures with few model calls (see [`mmh_ase.BatchEvaluator`][]).

    Args:
        model: A model file, a [`MultiHeadMACE`][mmh_heads.MultiHeadMACE] or an
            [`MMHCalculator`][mmh_ase.MMHCalculator].
        structures: The structures.
        head: The head (for a model file or model).
        max_atoms: Most atoms in one model call.
        **calculator_options: Options of [`MMHCalculator`][mmh_ase.MMHCalculator] (``dtype``,
            ``device``, ...).

    Returns:
        One result dict per structure (``energy``, ``forces``, ``stress``, ...).

    Example:
        >>> results = evaluate_structures("model.safetensors", frames, head="pbe")  # doctest: +SKIP
        >>> [r["energy"] for r in results]  # doctest: +SKIP
    """
    evaluator = BatchEvaluator(model, head, max_atoms=max_atoms, **calculator_options)
    return evaluator(structures)
