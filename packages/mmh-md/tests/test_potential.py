"""The batched potential (the core of the torch-sim model) equals the calculator."""

import numpy as np
import pytest
import torch
from ase import Atoms
from md_kit import shared_model
from mmh_ase import HeadSelectionError, MMHCalculator
from mmh_ase.testing import atoms_of, mixed_batch
from mmh_data import UnknownElementError
from mmh_heads.testing import molecule
from mmh_md import MMHPotential


def _tensors(structures, dtype=torch.float64):
    return (
        torch.tensor(np.concatenate([a.positions for a in structures]), dtype=dtype),
        torch.tensor(np.stack([a.cell.array for a in structures]), dtype=dtype),
        torch.tensor(np.stack([a.pbc for a in structures])),
        torch.tensor(np.concatenate([a.numbers for a in structures])),
        torch.cat([torch.full((len(a),), k) for k, a in enumerate(structures)]),
    )


@pytest.mark.parametrize("neighbour_list", ["torch", "vesin"])
def test_batch_of_eight_equals_calculator_float64(neighbour_list):
    structures = mixed_batch()
    assert len({len(a) for a in structures}) > 4 and not structures[0].pbc.any()
    potential = MMHPotential(shared_model(), "new", neighbour_list=neighbour_list)
    out = potential(*_tensors(structures))
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
        if atoms.cell.rank == 3:
            s = calc.results["stress"]
            full = out["stress"][g].numpy()
            voigt = full[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            errors["stress"] = max(errors["stress"], float(np.abs(voigt - s).max()))
    print(f"max |potential - calculator| ({neighbour_list}): {errors}")
    assert max(errors.values()) < 1e-6


def test_dtype_and_outputs(dtype=torch.float32):
    structures = mixed_batch()[:3]
    potential = MMHPotential(shared_model(), "base", dtype="float32")
    out = potential(*_tensors(structures), compute_stress=False)
    assert potential.dtype == torch.float32 and out["energy"].dtype == torch.float32
    assert out["forces"].shape == (sum(len(a) for a in structures), 3)
    assert "stress" not in out
    reference = MMHPotential(shared_model(), "base")(*_tensors(structures))
    np.testing.assert_allclose(out["energy"].numpy(), reference["energy"].numpy(), rtol=1e-5)


def test_same_errors_as_calculator(model_file):
    for head in (None, "nope", 3):
        with pytest.raises(HeadSelectionError) as ours:
            MMHPotential(model_file, head)
        with pytest.raises(HeadSelectionError) as theirs:
            MMHCalculator(model_file, head)
        assert str(ours.value) == str(theirs.value)
    gold = Atoms("Au2", positions=[[0, 0, 0], [0, 0, 2.5]])
    with pytest.raises(UnknownElementError, match=r"Au \(79\)"):
        MMHPotential(shared_model(), "base")(*_tensors([atoms_of(molecule()), gold]))
    with pytest.raises(ValueError, match="neighbour_list must be one of"):
        MMHPotential(shared_model(), "base", neighbour_list="ase")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu_with_the_neighbour_list_on_the_device():
    structures = mixed_batch()
    cpu = MMHPotential(shared_model(), "new")(*_tensors(structures))
    potential = MMHPotential(shared_model(), "new", device="cuda")
    out = potential(*_tensors(structures))
    assert out["forces"].device.type == "cuda"
    for key in ("energy", "forces", "stress"):
        np.testing.assert_allclose(out[key].cpu().numpy(), cpu[key].numpy(), atol=1e-9)
