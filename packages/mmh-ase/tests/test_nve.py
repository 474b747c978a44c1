"""A trained model conserves energy in NVE molecular dynamics through the calculator.

A small model is trained for a few minutes (300 full-batch Adam steps, float32, one thread)
on half of the rock-salt NaCl frames of the bundled ``bulk`` dataset (GFN1-xTB energies and
forces), saved, loaded by :class:`MMHCalculator` in float64 and run for 2 ps of velocity
Verlet at 300 K from the relaxed crystal. The total energy must stay within 1 meV/atom of
its start.
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

FAMILY = "NaCl-rs"
HEAD = "gfn1"
R_MAX = 5.0


def _frames(part):
    """Every other frame of the crystal (relaxation path, strained and rattled cells, MD
    snapshots) to train on, the others to validate on (the dataset's own splits hold
    other crystals)."""
    frames = [a for a in datasets.load_atoms("bulk", "train") if a.info["family"] == FAMILY]
    return frames[part == "valid" :: 2]


def _batch(frames):
    configs = configurations_from_atoms(frames, head=HEAD)
    builder = GraphBuilder(R_MAX, heads=[HEAD], dtype=torch.float32)
    return collate([builder(c) for c in configs])


def _train(steps: int = 300) -> tuple[MultiHeadMACE, dict[str, float]]:
    """Full-batch Adam on energy + forces; returns the model and force RMSEs and RMSs."""
    torch.manual_seed(0)
    frames = _frames("train")
    train, valid = _batch(frames), _batch(_frames("valid"))
    elements = tuple(sorted({int(z) for a in frames for z in a.numbers}))
    e0 = {z: e for z, e in datasets.isolated_atom_energies("bulk").items() if z in elements}
    e0_sum = torch.tensor([sum(e0[int(z)] for z in a.numbers) for a in frames])
    per_atom = (train.energy - e0_sum) / train.num_atoms
    config = ModelConfig(
        BackboneConfig(
            elements=elements,
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
    errors = {}
    for name, batch in (("train", train), ("valid", valid)):
        out = model(batch, compute_stress=False)
        errors[f"{name}_rmse"] = float((out["forces"] - batch.forces).pow(2).mean().sqrt())
        errors[f"{name}_rms"] = float(batch.forces.pow(2).mean().sqrt())
    return model.eval(), errors


@pytest.mark.slow
def test_nve_conserves_energy_with_a_trained_model(tmp_path):
    torch.set_num_threads(1)
    model, err = _train()
    print(
        f"force RMSE train {err['train_rmse']:.4f} eV/Å (RMS {err['train_rms']:.4f}), "
        f"held out {err['valid_rmse']:.4f} eV/Å (RMS {err['valid_rms']:.4f})"
    )
    # the model has learnt the forces, on its training frames and on held-out ones
    assert err["train_rmse"] < 0.2 * err["train_rms"]
    assert err["valid_rmse"] < 0.3 * err["valid_rms"]

    path = save_model(model, tmp_path / "al.safetensors")
    # the end of the relaxation path: the crystal at its GFN1-xTB equilibrium
    relaxed = [a for a in datasets.load_atoms("bulk", "train") if a.info["family"] == FAMILY]
    atoms = [a for a in relaxed if a.info["config_type"] == "relax"][-1].copy()
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
    # a crystal vibrating (equipartition halves the initial 300 K), neither frozen nor melting
    assert 30 < np.mean(temperatures) < 600
    assert np.ptp(totals[:50]) > 0  # the run did move
