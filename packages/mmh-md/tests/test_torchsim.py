"""The torch-sim model: torch-sim's own conformance check, agreement with the calculator,
NVE energy conservation and a batched relaxation.

torch-sim is not in the default environment (torch-sim 0.3 needs vesin-torch, whose
wheels stop at torch 2.14); these tests run where ``torch-sim-atomistic`` is installed.
"""

import numpy as np
import pytest
import torch

ts = pytest.importorskip(
    "torch_sim", reason="torch-sim is not installed (pip install torch-sim-atomistic)"
)

from md_kit import shared_model  # noqa: E402
from mmh_ase import HeadSelectionError, MMHCalculator  # noqa: E402
from mmh_ase.testing import mixed_batch, rattled  # noqa: E402
from mmh_data import UnknownElementError  # noqa: E402
from mmh_md import MMHTorchSimModel  # noqa: E402
from torch_sim.models.interface import validate_model_outputs  # noqa: E402


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_torch_sim_conformance(dtype):
    model = MMHTorchSimModel(shared_model(), "base", device="cpu", dtype=dtype)
    assert model.dtype == dtype and model.device == torch.device("cpu")
    validate_model_outputs(model, torch.device("cpu"), dtype)


def test_batch_of_eight_equals_calculator_float64():
    structures = mixed_batch(periodic_molecules=True)
    model = MMHTorchSimModel(shared_model(), "new", device="cpu")
    state = ts.io.atoms_to_state(structures, model.device, model.dtype)
    before = state.positions.clone()
    out = model(state)
    assert torch.equal(state.positions, before)
    calc = MMHCalculator(shared_model(), "new")
    ptr = np.cumsum([0] + [len(a) for a in structures])
    errors = {"energy": 0.0, "forces": 0.0, "stress": 0.0}
    for g, atoms in enumerate(structures):
        atoms = atoms.copy()
        atoms.calc = calc
        errors["energy"] = max(
            errors["energy"], abs(float(out["energy"][g]) - atoms.get_potential_energy())
        )
        f = out["forces"][ptr[g] : ptr[g + 1]].numpy()
        errors["forces"] = max(errors["forces"], float(np.abs(f - atoms.get_forces()).max()))
        s = out["stress"][g].numpy()[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        errors["stress"] = max(errors["stress"], float(np.abs(s - atoms.get_stress()).max()))
    print(f"max |torch-sim - calculator|: {errors}")
    assert max(errors.values()) < 1e-6


def test_errors_before_any_step(model_file):
    with pytest.raises(HeadSelectionError, match="choose one with head"):
        MMHTorchSimModel(model_file, device="cpu")
    with pytest.raises(HeadSelectionError, match="no head 'nope'"):
        MMHTorchSimModel(model_file, "nope", device="cpu")
    from ase.build import bulk

    model = MMHTorchSimModel(shared_model(), "base", device="cpu")
    state = ts.io.atoms_to_state([bulk("Cu", "fcc", a=3.6)], model.device, model.dtype)
    with pytest.raises(UnknownElementError, match=r"Cu \(29\)"):
        ts.integrate(state, model, integrator=ts.nve, n_steps=1, temperature=300.0, timestep=1e-3)


@pytest.mark.slow
def test_nve_two_picoseconds_conserves_energy():
    """2 ps of velocity Verlet (1 fs) on rock-salt NaCl (64 atoms), from 300 K."""
    model = MMHTorchSimModel(shared_model(), "base", device="cpu")
    atoms = rattled("nacl", 0, (2, 2, 2), amplitude=0.0, cubic=True)
    state = ts.io.atoms_to_state([atoms], model.device, model.dtype)
    units = ts.units.MetalUnits
    init_fn, update_fn = ts.nve(
        model=model,
        dt=torch.tensor(0.001 * units.time, dtype=model.dtype),  # 1 fs
        kT=torch.tensor(300.0 * units.temperature, dtype=model.dtype),
        seed=0,
    )
    md = init_fn(state)
    totals = []
    for _ in range(2000):
        md = update_fn(md)
        kinetic = ts.calc_kinetic_energy(momenta=md.momenta, masses=md.masses)
        totals.append(float(md.energy[0] + kinetic))
    totals = np.array(totals)
    drift = np.abs(totals - totals[0]).max() / len(atoms)
    print(f"torch-sim NVE 2 ps, {len(atoms)} atoms: max |E - E(0)| = {drift * 1e3:.4f} meV/atom")
    assert drift < 1e-3
    assert np.ptp(totals) > 0


@pytest.mark.slow
def test_batched_relaxation_of_sixteen_systems_converges():
    names = ["nacl", "al", "si", "fe"]
    structures = [rattled(names[k % 4], seed=k, amplitude=0.08) for k in range(16)]
    model = MMHTorchSimModel(shared_model(), "base", device="cpu")
    fmax = 0.02
    state = ts.optimize(
        structures,
        model,
        optimizer=ts.optimizers.fire,
        convergence_fn=ts.generate_force_convergence_fn(force_tol=fmax, include_cell_forces=False),
        max_steps=2000,
    )
    out = model(state)
    norms = out["forces"].norm(dim=1)
    per_system = torch.stack([norms[state.system_idx == g].max() for g in range(16)])
    print(f"batched FIRE, 16 systems: largest |F| after = {float(per_system.max()):.4f} eV/Å")
    assert state.n_systems == 16
    assert bool((per_system < fmax).all())
