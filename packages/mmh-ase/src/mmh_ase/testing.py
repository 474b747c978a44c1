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
`mmh_heads.testing`. The structures here are ``ase.Atoms``: `atoms_of` converts the kit's
[`mmh_data.Configuration`][] structures (``atoms_of(molecule(2))``), `jittered_cell` is a
small triclinic crystal without close contacts, `rattled` builds rattled crystals, `in_box`
puts a molecule in a periodic vacuum box and `mixed_batch` is a list of different systems
for batched evaluation.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from mmh_data import Configuration
from mmh_heads.testing import CELL, molecule

__all__ = [
    "CalculatorTests",
    "atoms_of",
    "check_calculator_forces",
    "check_calculator_o3",
    "check_calculator_stress",
    "check_calculator_translation",
    "check_energies_sum_to_the_energy",
    "check_nve_drift",
    "in_box",
    "jittered_cell",
    "mixed_batch",
    "random_o3_matrix",
    "rattled",
]


# --------------------------------------------------------------------------- structures
def atoms_of(config: Configuration) -> Atoms:
    """A plain ``ase.Atoms`` of a configuration: its atomic numbers, positions, cell and
    periodicity, without labels, head or ``info`` keys (``atoms_of(molecule(2))``)."""
    return Atoms(
        numbers=np.array(config.atomic_numbers),
        positions=np.array(config.positions, dtype=np.float64),
        cell=np.array(config.cell, dtype=np.float64),
        pbc=np.array(config.pbc, dtype=bool),
    )


#: fractional positions of the four atoms of `jittered_cell` (a face-centred arrangement)
_FCC = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])


def jittered_cell(seed: int = 0, numbers: tuple[int, ...] = (13, 8, 6, 1)) -> Atoms:
    """Four atoms (default Al, O, C, H) on a face-centred arrangement in the triclinic cell
    of `mmh_heads.testing.triclinic`, jittered by a normal 0.03 in fractional coordinates
    (periodic in 3 directions, images inside a 3 Å cutoff). Nearest neighbours are about
    1.9 Å apart: no close contacts, so forces are small and smooth (MD, relaxations, finite
    differences with absolute tolerances)."""
    if len(numbers) != len(_FCC):
        raise ValueError(f"jittered_cell holds {len(_FCC)} atoms, got {len(numbers)} numbers")
    rng = np.random.default_rng(seed)
    frac = _FCC + rng.normal(scale=0.03, size=_FCC.shape)
    return Atoms(numbers=list(numbers), scaled_positions=frac, cell=np.array(CELL), pbc=True)


#: the rattled crystals, built by ase.build.bulk (``cubic`` applies to rock salt alone)
_CRYSTALS = {
    "nacl": lambda cubic: bulk("NaCl", "rocksalt", a=5.64, cubic=cubic),
    "al": lambda cubic: bulk("Al", "fcc", a=4.05, cubic=True),
    "si": lambda cubic: bulk("Si", "diamond", a=5.43),
    "fe": lambda cubic: bulk("Fe", "bcc", a=2.87, cubic=True),
}


def rattled(
    name: str,
    seed: int = 0,
    repeat: tuple[int, int, int] = (1, 1, 1),
    amplitude: float = 0.05,
    cubic: bool = False,
) -> Atoms:
    """A crystal, repeated by ``repeat`` and rattled by ``amplitude`` Å (ASE's ``rattle``
    with ``seed``): ``"nacl"`` (rock salt, a = 5.64 Å; the cubic cell of 8 atoms with
    ``cubic``, else the primitive cell of 2), ``"al"`` (fcc, cubic, 4 atoms), ``"si"``
    (diamond, primitive, 2 atoms) or ``"fe"`` (bcc, cubic, 2 atoms)."""
    if name not in _CRYSTALS:
        raise ValueError(f"unknown crystal {name!r}; choose one of {sorted(_CRYSTALS)}")
    atoms = _CRYSTALS[name](cubic) * tuple(repeat)
    atoms.rattle(amplitude, seed=seed)
    return atoms


def in_box(atoms: Atoms, size: float = 12.0) -> Atoms:
    """A copy of a molecule centred in a cubic periodic vacuum box of edge ``size`` Å (its
    images beyond the cutoff of small models)."""
    atoms = atoms.copy()
    atoms.cell = [size, size, size]
    atoms.pbc = True
    atoms.center()
    return atoms


def mixed_batch(periodic_molecules: bool = False) -> list[Atoms]:
    """Eight different systems of 3 to 16 atoms: three molecules
    (`mmh_heads.testing.molecule`, one of them with a cell but no periodicity), two
    `jittered_cell`, and rattled rock salt, aluminium and silicon (`rattled`); elements H,
    C, O, Na, Al, Si and Cl.

    With ``periodic_molecules`` the molecules sit in periodic vacuum boxes (`in_box`; for
    engines whose states have one periodicity for all systems)."""
    mols = [
        atoms_of(molecule(0)),
        atoms_of(molecule(1, numbers=(8, 1, 1))),
        atoms_of(molecule(2, numbers=(6, 6, 1, 1, 1, 1, 8, 1))),
    ]
    if periodic_molecules:
        mols = [in_box(m) for m in mols]
    else:
        mols[2].cell = [10.0, 11.0, 12.0]  # a cell without periodicity
    return [
        mols[0],
        jittered_cell(0),
        rattled("nacl", 1, (2, 2, 2)),
        mols[1],
        rattled("al", 2),
        rattled("si", 3, (2, 1, 1)),
        mols[2],
        jittered_cell(4),
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
