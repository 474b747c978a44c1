"""Geometry samplers shared by the builders: strain, rattle, relaxation, MD, normal modes."""

from __future__ import annotations

import numpy as np

from .._configuration import Configuration
from ._label import label, recording_calculator


def random_strain(atoms, rng: np.random.Generator, volumetric: float, shear: float):
    """Return a copy of ``atoms`` with a random symmetric strain applied to the cell."""
    eps = np.diag(rng.uniform(-volumetric, volumetric, 3))
    off = rng.uniform(-shear, shear, 3)
    eps[0, 1] = eps[1, 0] = off[0]
    eps[0, 2] = eps[2, 0] = off[1]
    eps[1, 2] = eps[2, 1] = off[2]
    out = atoms.copy()
    out.set_cell(atoms.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
    return out


def rattle(atoms, rng: np.random.Generator, sigma: float, mask=None):
    """Return a copy of ``atoms`` with Gaussian displacements of width ``sigma`` (Å)."""
    out = atoms.copy()
    disp = rng.normal(0.0, sigma, (len(atoms), 3))
    if mask is not None:
        disp[~np.asarray(mask)] = 0.0
    out.positions = out.positions + disp
    return out


def relax(atoms, method: str, with_stress: bool, fmax: float, steps: int, cell: str, log):
    """Relax ``atoms`` (positions, and the cell when ``cell`` is ``"full"`` or ``"hydro"``).

    Returns the relaxed ``Atoms`` and the frames evaluated on the way (tagged ``relax``).
    """
    from ase.calculators.calculator import CalculationFailed
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    work = atoms.copy()
    work.calc = recording_calculator(method, with_stress, log)
    target = work
    if cell == "full":
        target = FrechetCellFilter(work)
    elif cell == "hydro":
        target = FrechetCellFilter(work, hydrostatic_strain=True)
    try:
        BFGS(target, logfile=None, maxstep=0.1).run(fmax=fmax, steps=steps)
    except CalculationFailed as err:
        log.append(f"relaxation of {atoms.get_chemical_formula()} stopped: {err}")
    frames = [fr.replace(config_type="relax") for fr in work.calc.frames]
    relaxed = work.copy()
    relaxed.set_constraint(atoms.constraints)
    return relaxed, frames


def langevin_md(atoms, method, with_stress, rng, temperature, timestep_fs, steps, every, log):
    """Run Langevin MD and return every ``every``-th evaluated frame (tagged ``md``)."""
    from ase import units
    from ase.calculators.calculator import CalculationFailed
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    work = atoms.copy()
    work.calc = recording_calculator(method, with_stress, log)
    legacy = np.random.RandomState(int(rng.integers(2**31 - 1)))
    MaxwellBoltzmannDistribution(work, temperature_K=temperature, rng=legacy)
    dyn = Langevin(
        work,
        timestep=timestep_fs * units.fs,
        temperature_K=temperature,
        friction=0.02,
        rng=legacy,
    )
    try:
        dyn.run(steps)
    except CalculationFailed as err:
        log.append(f"MD of {atoms.get_chemical_formula()} stopped: {err}")
    frames = [fr.replace(config_type="md") for fr in work.calc.frames[every::every]]
    return frames


def hessian(atoms, method: str, delta: float = 0.005) -> np.ndarray:
    """Central finite-difference Hessian (eV/Å²) of a molecule."""
    from ._label import make_calculator

    work = atoms.copy()
    work.calc = make_calculator(method)
    n = len(work)
    hess = np.zeros((3 * n, 3 * n))
    pos0 = work.positions.copy()
    for i in range(n):
        for k in range(3):
            grads = []
            for sign in (1.0, -1.0):
                pos = pos0.copy()
                pos[i, k] += sign * delta
                work.positions = pos
                grads.append(-work.get_forces().ravel())
            hess[3 * i + k] = (grads[0] - grads[1]) / (2 * delta)
    return 0.5 * (hess + hess.T)


def normal_mode_samples(atoms, hess, rng, temperature, count):
    """Draw ``count`` harmonic (Boltzmann) displacements along the normal modes."""
    from ase import units

    masses = np.repeat(atoms.get_masses(), 3)
    inv_sqrt_m = 1.0 / np.sqrt(masses)
    mw = hess * inv_sqrt_m[:, None] * inv_sqrt_m[None, :]
    evals, evecs = np.linalg.eigh(mw)
    keep = evals > 1e-2  # drop translations, rotations and soft modes (eV/Å²/amu)
    evals, evecs = evals[keep], evecs[:, keep]
    kt = units.kB * temperature
    out = []
    for _ in range(count):
        amp = rng.normal(size=evals.size) * np.sqrt(kt / evals)
        disp = (evecs @ amp) * inv_sqrt_m
        new = atoms.copy()
        new.positions = atoms.positions + disp.reshape(-1, 3)
        out.append(new)
    return out


def label_all(structures, method, config_type, with_stress, log) -> list[Configuration]:
    """Label a list of structures, dropping the ones whose SCF fails."""
    frames = [label(s, method, config_type, with_stress, log) for s in structures]
    return [f for f in frames if f is not None]
