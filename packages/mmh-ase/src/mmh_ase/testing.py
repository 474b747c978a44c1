"""The physics test kit for ASE calculators: check functions and a pytest mixin.

The checks take any ASE calculator (an [`MMHCalculator`][mmh_ase.MMHCalculator] or another
code's) and raise ``AssertionError`` naming the property and the size of the error.
`CalculatorTests` runs them all: a pytest class that inherits it and provides the fixtures
``calculator`` (float64) and ``structures`` (a list of ``ase.Atoms``, at least one with a
three-dimensional periodic cell) gets the battery::

    import pytest
    from mmh_ase import MMHCalculator
    from mmh_ase.testing import CalculatorTests


    class TestMyCalculator(CalculatorTests):
        @pytest.fixture
        def calculator(self, model):
            return MMHCalculator(model, head="pbe", default_dtype="float64")

        @pytest.fixture
        def structures(self):
            return [ase.build.bulk("Si", cubic=True), ase.build.molecule("H2O")]

The model-level checks (finite differences on graphs, extensivity, heads, backends) are in
`mmh_heads.testing`.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

__all__ = [
    "CalculatorTests",
    "check_calculator_forces",
    "check_calculator_o3",
    "check_calculator_stress",
    "check_calculator_translation",
    "check_energies_sum_to_the_energy",
    "check_nve_drift",
    "random_o3_matrix",
]


def random_o3_matrix(seed: int = 0, improper: bool = True) -> np.ndarray:
    """A random orthogonal matrix (determinant −1 when ``improper``)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if (np.linalg.det(q) > 0) == improper:
        q = -q
    return q


def _results(calc: Calculator, atoms: Atoms, stress: bool) -> dict[str, np.ndarray]:
    atoms = atoms.copy()
    atoms.calc = calc
    out = {"energy": np.array(atoms.get_potential_energy()), "forces": atoms.get_forces()}
    if stress:
        out["stress"] = atoms.get_stress(voigt=False)
    return out


def _has_stress(atoms: Atoms) -> bool:
    return bool(atoms.pbc.all()) and atoms.cell.rank == 3


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()), 1e-30)
    return float(np.abs(a - b).max()) / scale


def _check_derivative(prop: str, numerical: np.ndarray, analytic: np.ndarray, atol: float):
    err = float(np.abs(numerical - analytic).max())
    if not err <= atol:
        raise AssertionError(f"{prop}: max error {err:.2e} > {atol:g}")


def check_calculator_forces(
    calc: Calculator, atoms: Atoms, *, eps: float = 1e-5, atol: float = 1e-7
) -> None:
    """Forces equal −∂E/∂r by ASE's central finite differences (``atol`` in eV/Å)."""
    atoms = atoms.copy()
    atoms.calc = calc
    numerical = calculate_numerical_forces(atoms, eps=eps)
    _check_derivative("forces are not -dE/dr", numerical, atoms.get_forces(), atol)


def check_calculator_stress(
    calc: Calculator, atoms: Atoms, *, eps: float = 1e-6, atol: float = 1e-7
) -> None:
    """Stress equals the strain derivative of the energy over the volume (ASE sign;
    ``atol`` in eV/Å³)."""
    atoms = atoms.copy()
    atoms.calc = calc
    numerical = calculate_numerical_stress(atoms, eps=eps)
    _check_derivative("stress is not dE/de / V", numerical, atoms.get_stress(), atol)


def check_calculator_o3(
    calc: Calculator, atoms: Atoms, *, rtol: float = 1e-9, seed: int = 0
) -> None:
    """Energy invariant, forces and stress covariant under a proper and an improper random
    orthogonal transformation of positions and cell."""
    stress = _has_stress(atoms)
    ref = _results(calc, atoms, stress)
    for improper in (False, True):
        q = random_o3_matrix(seed, improper)
        moved = atoms.copy()
        moved.set_cell(atoms.cell.array @ q.T, scale_atoms=False)
        moved.positions = atoms.positions @ q.T
        got = _results(calc, moved, stress)
        expected = {"energy": ref["energy"], "forces": ref["forces"] @ q.T}
        if stress:
            expected["stress"] = q @ ref["stress"] @ q.T
        for key, value in expected.items():
            err = _relative(got[key], value)
            if not err <= rtol:
                raise AssertionError(
                    f"not O(3)-equivariant: {key} under det Q = {np.linalg.det(q):+.0f}: "
                    f"relative error {err:.2e} > {rtol:g}"
                )


def check_calculator_translation(
    calc: Calculator, atoms: Atoms, *, rtol: float = 1e-9, seed: int = 0
) -> None:
    """A rigid translation changes no result."""
    stress = _has_stress(atoms)
    ref = _results(calc, atoms, stress)
    moved = atoms.copy()
    moved.positions += np.random.default_rng(seed).normal(size=3)
    got = _results(calc, moved, stress)
    for key, value in ref.items():
        err = _relative(got[key], value)
        if not err <= rtol:
            raise AssertionError(f"not translation-invariant: {key}: relative error {err:.2e}")


def check_energies_sum_to_the_energy(calc: Calculator, atoms: Atoms, *, atol: float = 1e-9) -> None:
    """Per-atom energies sum to the energy, and forces sum to zero (no external field)."""
    atoms = atoms.copy()
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    err = abs(float(atoms.get_potential_energies().sum()) - energy)
    net = float(np.abs(atoms.get_forces().sum(axis=0)).max())
    if not (err <= atol * max(1.0, abs(energy)) and net <= 1e3 * atol):
        raise AssertionError(
            f"per-atom energies sum to the energy within {err:.2e} eV; net force {net:.2e} eV/Å"
        )


def check_nve_drift(
    calc: Calculator,
    atoms: Atoms,
    *,
    steps: int = 200,
    timestep_fs: float = 0.5,
    temperature_k: float = 300.0,
    max_drift_mev_per_atom: float = 1.0,
    seed: int = 0,
) -> float:
    """Velocity Verlet from Maxwell–Boltzmann velocities: the total energy's largest
    deviation from its start stays below ``max_drift_mev_per_atom``. Returns the deviation."""
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.md.verlet import VelocityVerlet

    atoms = atoms.copy()
    atoms.calc = calc
    MaxwellBoltzmannDistribution(
        atoms, temperature_K=temperature_k, rng=np.random.default_rng(seed)
    )
    Stationary(atoms)
    totals = []
    dyn = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    dyn.attach(lambda: totals.append(atoms.get_total_energy()), interval=1)
    dyn.run(steps)
    deviation = 1000.0 * float(np.abs(np.array(totals) - totals[0]).max()) / len(atoms)
    if not deviation <= max_drift_mev_per_atom:
        raise AssertionError(
            f"NVE does not conserve energy: {deviation:.3f} meV/atom over {steps} steps of "
            f"{timestep_fs} fs (limit {max_drift_mev_per_atom})"
        )
    return deviation


class CalculatorTests:
    """Mixin for pytest classes: the physics battery on an ASE calculator.

    Fixtures to provide:
        calculator: the calculator, in float64.
        structures: ``ase.Atoms`` to test on, at least one periodic in three dimensions.

    Class attributes: ``nve_steps`` (0 switches the NVE check off), ``per_atom_energies``
    (whether the calculator gives ``energies``).
    """

    nve_steps: int = 200
    per_atom_energies: bool = True

    def test_forces_are_minus_the_energy_gradient(self, calculator, structures):
        for atoms in structures:
            check_calculator_forces(calculator, atoms)

    def test_stress_is_the_strain_derivative(self, calculator, structures):
        periodic = [a for a in structures if _has_stress(a)]
        assert periodic, "the structures fixture needs a three-dimensional periodic cell"
        for atoms in periodic:
            check_calculator_stress(calculator, atoms)

    def test_o3_equivariance(self, calculator, structures):
        for atoms in structures:
            check_calculator_o3(calculator, atoms)

    def test_translation_invariance(self, calculator, structures):
        for atoms in structures:
            check_calculator_translation(calculator, atoms)

    def test_energies_sum_to_the_energy(self, calculator, structures):
        if not self.per_atom_energies:
            _skip("the class sets per_atom_energies = False")
        for atoms in structures:
            check_energies_sum_to_the_energy(calculator, atoms)

    def test_nve_conserves_energy(self, calculator, structures):
        if not self.nve_steps:
            _skip("the class sets nve_steps = 0")
        periodic = [a for a in structures if _has_stress(a)] or list(structures)
        check_nve_drift(calculator, periodic[0], steps=self.nve_steps)


def _skip(reason: str) -> None:
    import pytest  # only the mixin needs pytest

    pytest.skip(reason)
