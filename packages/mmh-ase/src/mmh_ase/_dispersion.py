"""DFT-D3 dispersion (simple-dftd3) added to the model's energy, forces and stress."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import Bohr, Hartree

__all__ = ["D3Dispersion", "D3Params", "DispersionUnavailableError", "d3_params"]

_INSTALL_HINT = (
    "D3 dispersion needs the simple-dftd3 Python package (`dftd3` on PyPI); "
    "install it with `pip install 'mmh-ase[d3]'`"
)

# damping name -> damping class of dftd3.interface
_DAMPING = {
    "bj": "RationalDampingParam",
    "zero": "ZeroDampingParam",
    "bjm": "ModifiedRationalDampingParam",
    "zerom": "ModifiedZeroDampingParam",
    "op": "OptimizedPowerDampingParam",
}


class DispersionUnavailableError(ImportError):
    """D3 dispersion was asked for but simple-dftd3 is not installed."""


@dataclass(frozen=True)
class D3Params:
    """Settings of the DFT-D3 dispersion correction.

    The defaults are those of the paper's D3(BJ) evaluations (§VII: torch-dftd with the
    PBE parametrisation): PBE, Becke–Johnson damping, two-body terms only, pairs up to
    95 bohr (≈ 50.3 Å), coordination numbers up to 40 bohr (≈ 21.2 Å).

    Attributes:
        functional: Functional whose D3 parameters are used (simple-dftd3's names, e.g.
            ``"pbe"``, ``"r2scan"``, ``"b3lyp"``).
        damping: ``"bj"`` (rational, Becke–Johnson), ``"zero"``, ``"bjm"``, ``"zerom"``
            (the modified variants) or ``"op"`` (optimised power).
        three_body: Add the Axilrod–Teller–Muto three-body term (``s9 = 1``).
        cutoff: Cutoff of the two-body terms in Å.
        three_body_cutoff: Cutoff of the three-body term in Å.
        cn_cutoff: Cutoff of the coordination numbers in Å.

    Example:
        >>> D3Params().functional, D3Params().damping
        ('pbe', 'bj')
        >>> D3Params(functional="r2scan", three_body=True).three_body
        True
    """

    functional: str = "pbe"
    damping: str = "bj"
    three_body: bool = False
    cutoff: float = 95.0 * Bohr
    three_body_cutoff: float = 40.0 * Bohr
    cn_cutoff: float = 40.0 * Bohr

    def __post_init__(self) -> None:
        object.__setattr__(self, "functional", str(self.functional).lower())
        object.__setattr__(self, "damping", str(self.damping).lower())
        if self.damping not in _DAMPING:
            raise ValueError(f"unknown D3 damping {self.damping!r}; use one of {list(_DAMPING)}")
        for name in ("cutoff", "three_body_cutoff", "cn_cutoff"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"D3 {name} must be positive, got {getattr(self, name)}")


def d3_params(value: D3Params | Mapping[str, Any] | None) -> D3Params:
    """A [`mmh_ase.D3Params`][] from itself, a mapping of its fields, or ``None`` (defaults).

    Raises:
        ValueError: The mapping has keys that are not fields of [`D3Params`][mmh_ase.D3Params].
    """
    if value is None:
        return D3Params()
    if isinstance(value, D3Params):
        return value
    names = [f.name for f in dataclasses.fields(D3Params)]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ValueError(f"unknown D3 parameter(s) {unknown}; the parameters are {names}")
    return D3Params(**value)


def _interface():
    try:
        from dftd3 import interface
    except ImportError as err:
        raise DispersionUnavailableError(_INSTALL_HINT) from err
    return interface


class D3Dispersion:
    """DFT-D3 energy, forces, stress and per-atom energies of ``ase.Atoms``.

    The library's model object is kept between calls and only its positions and cell are
    updated while the atoms' species and periodicity stay the same (an MD run).

    Args:
        params: The settings (default [`D3Params`][mmh_ase.D3Params]).

    Raises:
        DispersionUnavailableError: simple-dftd3 is not installed.
        ValueError: simple-dftd3 has no parameters for this functional and damping.
    """

    def __init__(self, params: D3Params | Mapping[str, Any] | None = None) -> None:
        self.params = d3_params(params)
        interface = _interface()
        cls = getattr(interface, _DAMPING[self.params.damping])
        try:
            self._damping = cls(method=self.params.functional, atm=self.params.three_body)
        except RuntimeError as err:
            raise ValueError(
                f"simple-dftd3 has no D3({self.params.damping}) parameters for functional "
                f"{self.params.functional!r}: {err}"
            ) from err
        self._model = None
        self._key: tuple | None = None

    def _update(self, atoms: Atoms):
        numbers = np.asarray(atoms.numbers)
        pbc = np.asarray(atoms.pbc, dtype=bool)
        periodic = bool(pbc.any())
        key = (numbers.tobytes(), pbc.tobytes())
        positions = np.asarray(atoms.positions, dtype=np.float64) / Bohr
        lattice = np.asarray(atoms.cell.array, dtype=np.float64) / Bohr
        if self._model is None or key != self._key:
            interface = _interface()
            self._model = interface.DispersionModel(
                numbers, positions, lattice if periodic else None, pbc if periodic else None
            )
            p = self.params
            self._model.set_realspace_cutoff(
                p.cutoff / Bohr, p.three_body_cutoff / Bohr, p.cn_cutoff / Bohr
            )
            self._key = key
        else:
            self._model.update(positions, lattice if periodic else None)
        return self._model

    def calculate(
        self, atoms: Atoms, *, forces: bool = True, stress: bool = False, energies: bool = False
    ) -> dict[str, Any]:
        """Dispersion results of ``atoms`` in eV, eV/Å and eV/Å³ (ASE conventions).

        Args:
            atoms: The structure.
            forces: Return ``forces`` ``[N, 3]``.
            stress: Return ``stress`` (Voigt 6, ASE sign); needs a cell of rank 3.
            energies: Return per-atom ``energies`` ``[N]`` (half of each pair's energy to
                each atom; this evaluates an ``N x N`` pair matrix).

        Returns:
            ``energy`` (float) and the arrays asked for.
        """
        model = self._update(atoms)
        need_grad = forces or stress
        try:
            raw = model.get_dispersion(self._damping, grad=need_grad)
        except RuntimeError as err:
            raise RuntimeError(f"simple-dftd3 failed to evaluate the structure: {err}") from err
        out: dict[str, Any] = {"energy": float(raw["energy"]) * Hartree}
        if forces:
            out["forces"] = -np.asarray(raw["gradient"]) * (Hartree / Bohr)
        if stress:
            volume = abs(float(np.linalg.det(atoms.cell.array)))
            if volume <= 0:
                raise ValueError("the D3 stress needs a three-dimensional cell")
            sigma = np.asarray(raw["virial"]) * (Hartree / volume)
            out["stress"] = sigma.flat[[0, 4, 8, 5, 2, 1]].copy()
        if energies:
            pairs = model.get_pairwise_dispersion(self._damping)
            matrix = pairs["additive pairwise energy"] + pairs["non-additive pairwise energy"]
            out["energies"] = matrix.sum(axis=1) * Hartree
        return out
