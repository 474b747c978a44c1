"""Labelling with tblite: one fresh SCF per geometry, so that labels are reproducible."""

from __future__ import annotations

import os

import numpy as np

from .._configuration import Configuration
from .._fields import voigt_to_matrix

#: Settings passed to ``tblite.ase.TBLite`` for every label (besides ``method``).
TBLITE_SETTINGS: dict = {
    "accuracy": 1.0,
    "electronic_temperature": 300.0,
    "max_iterations": 250,
    "mixer_damping": 0.4,
    "guess": "sad",
    "charge": 0,
    "multiplicity": 1,
    "cache_api": False,
    "verbosity": 0,
}


def limit_threads() -> None:
    """Pin OpenMP/BLAS to one thread; must run before tblite is imported."""
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[key] = "1"
    os.environ.setdefault("OMP_STACKSIZE", "256M")


def _fresh_class():
    from ase.calculators.calculator import all_changes
    from tblite.ase import TBLite

    class FreshTBLite(TBLite):
        """TBLite that discards the previous wavefunction before every calculation."""

        def calculate(self, atoms=None, properties=None, system_changes=all_changes):
            self._xtb = None
            self._res = None
            super().calculate(atoms, properties, system_changes)
            for hook in self.hooks:
                hook(self)

    return FreshTBLite


def make_calculator(method: str, multiplicity: int = 1):
    """Return a tblite calculator with the dataset settings and a fresh SCF per geometry.

    Every calculation starts from a superposition of atomic densities instead of the
    previous wavefunction, so a recomputation reproduces the stored label to SCF precision
    whatever the history of the calculator.

    Args:
        method: ``"GFN1-xTB"`` or ``"GFN2-xTB"``.
        multiplicity: Spin multiplicity (1 for the closed-shell structures of the datasets).
    """
    settings = dict(TBLITE_SETTINGS, multiplicity=multiplicity)
    calc = _fresh_class()(method=method, **settings)
    calc.hooks = []
    return calc


def labelled(atoms, results: dict, config_type: str, with_stress: bool) -> Configuration:
    """The [`Configuration`][mmh_data.Configuration] of an ``Atoms`` object and calculator
    results (energy, forces and, with ``with_stress``, stress)."""
    stress = voigt_to_matrix(results["stress"]) if with_stress else None
    return Configuration(
        atomic_numbers=atoms.numbers.copy(),
        positions=np.array(atoms.positions, dtype=float),
        cell=np.array(atoms.cell[:], dtype=float),
        pbc=np.array(atoms.pbc, dtype=bool),
        energy=float(results["energy"]),
        forces=np.array(results["forces"], dtype=float),
        stress=stress,
        config_type=config_type,
    )


def label(
    atoms, method: str, config_type: str, with_stress: bool, log: list
) -> Configuration | None:
    """Compute energy, forces (and stress) of ``atoms`` with a fresh calculator.

    Returns ``None`` and appends a message to ``log`` when the SCF fails.
    """
    from ase.calculators.calculator import CalculationFailed

    atoms = atoms.copy()
    atoms.set_constraint()
    atoms.calc = make_calculator(method)
    try:
        atoms.get_potential_energy()
    except CalculationFailed as err:  # SCF not converged or singular overlap
        log.append(f"skipped {config_type} ({atoms.get_chemical_formula()}): {err}")
        return None
    return labelled(atoms, atoms.calc.results, config_type, with_stress)


def recording_calculator(method: str, with_stress: bool, log: list):
    """A fresh-SCF tblite calculator that keeps a labelled
    [`Configuration`][mmh_data.Configuration] of every evaluated geometry.

    Used to drive relaxations and molecular dynamics: every evaluated geometry is a fresh
    SCF and therefore a valid label. The frames are in ``calc.frames``.
    """
    calc = make_calculator(method)
    calc.frames = []
    calc.hooks.append(lambda c: c.frames.append(labelled(c.atoms, c.results, "", with_stress)))
    return calc
