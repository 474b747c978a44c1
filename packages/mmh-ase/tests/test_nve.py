"""A trained model conserves energy in NVE molecular dynamics through the calculator.

A small model is trained for about two minutes (300 full-batch Adam steps, float32, one
thread) on one crystal of the bundled ``bulk`` dataset (GFN1-xTB energies and forces),
saved, loaded by :class:`MMHCalculator` in float64 and run for 2 ps of velocity Verlet at
300 K. The total energy must stay within 1 meV/atom of its start.
"""

import numpy as np
import pytest
import torch
from ase import units
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet
from mmh_ase import MMHCalculator
from mmh_data import GraphBuilder, collate, configurations_from_atoms, datasets
from mmh_heads import ModelConfig, MultiHeadMACE, save_model
from mmh_layers import BackboneConfig

FAMILY = "Al-fcc"
HEAD = "gfn1"
R_MAX = 5.0


def _frames(part):
    """Half of the crystal's frames of the dataset's training split, the other half held
    out for validation (the dataset's own splits hold different crystals)."""
    frames = [a for a in datasets.load_atoms("bulk", "train") if a.info["family"] == FAMILY]
    return [a for k, a in enumerate(frames) if (k % 2 == 1) == (part == "valid")]


def _batch(frames):
    configs = configurations_from_atoms(frames, head=HEAD)
    builder = GraphBuilder(R_MAX, heads=[HEAD], dtype=torch.float32)
    return collate([builder(c) for c in configs])


def _train(steps: int = 300) -> tuple[MultiHeadMACE, float]:
    """Full-batch Adam on energy + forces; returns the model and its validation force RMSE."""
    torch.manual_seed(0)
    train, valid = _batch(_frames("train")), _batch(_frames("valid"))
    e0 = {z: e for z, e in datasets.isolated_atom_energies("bulk").items() if z == 13}
    per_atom = (train.energy - e0[13] * train.num_atoms) / train.num_atoms
    config = ModelConfig(
        BackboneConfig(
            elements=(13,),
            channels=16,
            max_L=1,
            max_ell=2,
            correlation=2,
            r_max=R_MAX,
            num_bessel=8,
            radial_mlp=(32, 32),
        ),
        heads=(HEAD,),
        e0s={HEAD: e0},
        shift={HEAD: float(per_atom.mean())},
        scale={HEAD: float(train.forces.pow(2).mean().sqrt())},
        zbl=True,  # the data have no close contacts: ZBL keeps atoms apart
    )
    model = MultiHeadMACE(config, dtype=torch.float32)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-2)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps, eta_min=2e-3)
    for _ in range(steps):
        out = model(train, compute_stress=False, create_graph=True)
        e_err = (out["energy"] - train.energy) / train.num_atoms
        loss = e_err.pow(2).mean() + 10.0 * (out["forces"] - train.forces).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    out = model(valid, compute_stress=False)
    rmse = float((out["forces"] - valid.forces).pow(2).mean().sqrt())
    return model.eval(), rmse


@pytest.mark.slow
def test_nve_conserves_energy_with_a_trained_model(tmp_path):
    torch.set_num_threads(1)
    model, force_rmse = _train()
    force_scale = float(_batch(_frames("valid")).forces.pow(2).mean().sqrt())
    print(f"validation force RMSE {force_rmse:.4f} eV/Å (force RMS {force_scale:.4f} eV/Å)")
    # learnt, not converged: two minutes of training on a few frames
    assert force_rmse < 0.75 * force_scale

    path = save_model(model, tmp_path / "al.safetensors")
    atoms = next(a for a in _frames("train") if a.info["config_type"] == "relax").copy()
    atoms.info.clear()
    atoms.calc = MMHCalculator(path, dtype="float64")
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)

    totals, temperatures = [], []

    def record():
        totals.append(atoms.get_potential_energy() + atoms.get_kinetic_energy())
        temperatures.append(atoms.get_temperature())

    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    dyn.attach(record, interval=1)
    record()
    dyn.run(2000)  # 2 ps
    totals = np.array(totals)
    drift = np.abs(totals - totals[0]).max() / len(atoms)
    print(
        f"NVE 2 ps, 1 fs steps, {len(atoms)} atoms: max |E - E(0)| = {drift * 1e3:.4f} meV/atom, "
        f"final - initial = {(totals[-1] - totals[0]) / len(atoms) * 1e3:.4f} meV/atom, "
        f"mean T = {np.mean(temperatures):.0f} K"
    )
    assert drift < 1e-3
    assert 30 < np.mean(temperatures) < 600  # a crystal vibrating, neither frozen nor exploding
    assert np.ptp(totals[:50]) > 0  # the run did move
