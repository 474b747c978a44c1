import numpy as np
import pytest
import torch
from heads_kit import R_MAX, batch_of, make_model, molecule, triclinic
from mmh_data import Configuration, build_graph, collate
from mmh_layers.testing import assert_o3_equivariant


def test_outputs_and_dtypes(dtype):
    model = make_model(dtype)
    batch = batch_of([triclinic(), molecule()], [0, 1], dtype)
    out = model(batch)
    assert out["energy"].shape == (2,) and out["energy"].dtype == dtype
    assert out["node_energy"].shape == (9,)
    assert out["forces"].shape == (9, 3)
    assert out["stress"].shape == (2, 3, 3) and out["virials"].shape == (2, 3, 3)
    # no cell: no stress
    assert torch.all(out["stress"][1] == 0)
    assert torch.allclose(
        out["energy"], torch.stack([out["node_energy"][:4].sum(), out["node_energy"][4:].sum()])
    )


def test_forces_finite_differences():
    model = make_model()
    batch = batch_of([triclinic()], [0])
    out = model(batch)
    h = 1e-4
    fd = torch.zeros_like(batch.positions)
    for i in range(batch.positions.shape[0]):
        for a in range(3):
            energies = []
            for sign in (1, -1):
                pos = batch.positions.clone()
                pos[i, a] += sign * h
                e = model.compute(
                    pos,
                    batch.atomic_numbers,
                    batch.edge_index,
                    batch.unit_shifts,
                    batch.cell,
                    batch.batch,
                    batch.head,
                    compute_forces=False,
                    compute_stress=False,
                )["energy"]
                energies.append(float(e[0].detach()))
            fd[i, a] = -(energies[0] - energies[1]) / (2 * h)
    rel = float((fd - out["forces"]).abs().max() / out["forces"].abs().max())
    assert rel <= 1e-6, rel


def test_stress_finite_strain():
    model = make_model()
    batch = batch_of([triclinic(1)], [1])
    out = model(batch)
    volume = float(torch.linalg.det(batch.cell[0]).abs())
    h = 1e-5
    fd = torch.zeros(3, 3, dtype=torch.float64)
    for i in range(3):
        for j in range(3):
            energies = []
            for sign in (1, -1):
                d = torch.zeros(3, 3, dtype=torch.float64)
                d[i, j] += 0.5 * sign * h
                d[j, i] += 0.5 * sign * h
                f = torch.eye(3, dtype=torch.float64) + d
                e = model.compute(
                    batch.positions @ f,
                    batch.atomic_numbers,
                    batch.edge_index,
                    batch.unit_shifts,
                    batch.cell @ f,
                    batch.batch,
                    batch.head,
                    compute_forces=False,
                    compute_stress=False,
                )["energy"]
                energies.append(float(e[0].detach()))
            fd[i, j] = (energies[0] - energies[1]) / (2 * h) / volume
    stress = out["stress"][0].detach()
    rel = float((fd - stress).abs().max() / stress.abs().max())
    assert rel <= 1e-6, rel
    assert torch.allclose(out["virials"][0], -stress * volume)


def test_extensivity_two_copies():
    model = make_model()
    mol = molecule(3)
    far = Configuration(
        atomic_numbers=np.concatenate([mol.atomic_numbers, mol.atomic_numbers]),
        positions=np.concatenate([mol.positions, mol.positions + np.array([100.0, 0.0, 0.0])]),
    )
    for head in (0, 1):
        single = model(batch_of([mol], [head]))["energy"]
        double = model(batch_of([far], [head]))["energy"]
        assert abs(float((double[0] - 2 * single[0]).detach())) < 1e-6


def test_hydrogen_far_from_slab():
    model = make_model()
    rng = np.random.default_rng(5)
    cell = np.diag([3.0, 3.0, 20.0])
    pos = np.column_stack([rng.random(4) * 3, rng.random(4) * 3, 5 + rng.random(4) * 2])
    slab = Configuration(
        atomic_numbers=[6, 6, 8, 1], positions=pos, cell=cell, pbc=[True, True, False]
    )
    with_h = Configuration(
        atomic_numbers=[6, 6, 8, 1, 1],
        positions=np.vstack([pos, [1.5, 1.5, 57.0]]),
        cell=cell,
        pbc=[True, True, False],
    )
    f0 = model(batch_of([slab], [0]))["forces"]
    f1 = model(batch_of([with_h], [0]))["forces"]
    assert torch.allclose(f0, f1[:4], rtol=0, atol=1e-12)


@pytest.mark.parametrize("head", [0, 1])
def test_equivariance_every_head(dtype, head):
    model = make_model(dtype)
    config = triclinic(2)

    def fn(pos, z, cell):
        c = Configuration(
            atomic_numbers=z.numpy(),
            positions=pos.double().numpy(),
            cell=cell.double().numpy(),
            pbc=[True] * 3,
        )
        g = build_graph(c, cutoff=R_MAX, heads=["Default"], dtype=dtype)
        batch = collate([g])
        batch.head = torch.tensor([head])
        out = model(batch)
        return {"energy": out["energy"], "forces": out["forces"], "stress": out["stress"]}

    rtol = 1e-4 if dtype == torch.float32 else 1e-9
    assert_o3_equivariant(
        fn,
        torch.tensor(config.positions, dtype=dtype),
        torch.tensor(config.atomic_numbers),
        {"energy": "scalar", "forces": "vector", "stress": "matrix"},
        torch.tensor(config.cell, dtype=dtype),
        trials=1,
        rtol=rtol,
    )


def test_create_graph_allows_force_loss():
    model = make_model()
    batch = batch_of([triclinic()], [0])
    out = model(batch, create_graph=True)
    loss = (out["forces"] ** 2).sum() + (out["stress"] ** 2).sum()
    loss.backward()
    grads = [p.grad for p in model.readouts[0].parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
