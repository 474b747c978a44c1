"""The calculator agrees with the model called directly, and follows ASE's conventions."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.calculator import PropertyNotImplementedError
from ase_kit import HEADS, MODEL, R_MAX, shared_model
from mmh_ase import MMHCalculator
from mmh_ase.testing import (
    CalculatorTests,
    atoms_of,
    check_energies_sum_to_the_energy,
    jittered_cell,
)
from mmh_data import Configuration, UnknownElementError, build_graph, collate
from mmh_heads import save_model
from mmh_heads.testing import molecule, tiny_model

TOL = {torch.float32: 2e-5, torch.float64: 1e-10}


def direct(model, atoms, head_index, dtype):
    """The model called on its own: graph from mmh_data, one head index."""
    config = Configuration(
        atomic_numbers=atoms.numbers,
        positions=atoms.positions,
        cell=atoms.cell.array,
        pbc=atoms.pbc,
    )
    batch = collate([build_graph(config, cutoff=R_MAX, dtype=dtype)])
    batch.head = torch.tensor([head_index])
    periodic = atoms.cell.rank == 3
    out = model(batch, compute_stress=periodic)
    return {k: v.detach().double().numpy() for k, v in out.items()}


def close(a, b, dtype):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(1.0, float(np.abs(b).max()))
    assert np.abs(a - b).max() <= TOL[dtype] * scale, (a, b)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("structure", ["periodic", "molecule"])
def test_matches_direct_model_call(dtype, head, structure):
    """Energy, forces, stress and per-atom energies equal the model's own outputs."""
    model = shared_model(dtype)
    atoms = jittered_cell(1) if structure == "periodic" else atoms_of(molecule(2))
    ref = direct(model, atoms, HEADS.index(head), dtype)
    atoms.calc = MMHCalculator(model, head=head)
    close(atoms.get_potential_energy(), ref["energy"][0], dtype)
    close(atoms.get_potential_energy(force_consistent=True), ref["energy"][0], dtype)
    close(atoms.get_forces(), ref["forces"], dtype)
    close(atoms.get_potential_energies(), ref["node_energy"], dtype)
    e0s = model.config.e0s.get(head, {})  # the E0s the model was built with
    e0 = np.array([e0s.get(int(z), 0.0) for z in atoms.numbers])
    close(atoms.calc.get_property("node_energy"), ref["node_energy"] - e0, dtype)
    if structure == "periodic":
        stress = ref["stress"][0]
        voigt = [stress[0, 0], stress[1, 1], stress[2, 2], stress[1, 2], stress[0, 2], stress[0, 1]]
        close(atoms.get_stress(), voigt, dtype)
        close(atoms.get_stress(voigt=False), stress, dtype)
    else:
        with pytest.raises(PropertyNotImplementedError, match="three-dimensional cell"):
            atoms.get_stress()
    assert atoms.calc.results["forces"].dtype == np.float64


def test_dtype_conversion_of_a_float64_model_matches_a_float32_model():
    """dtype='float32' on a float64 model gives the float32 model's numbers."""
    atoms = jittered_cell(3)
    model64 = shared_model(torch.float64)
    model32 = tiny_model(dtype=torch.float32, seed=1, **MODEL)
    model32.load_state_dict(model64.state_dict())
    atoms.calc = MMHCalculator(model64, head="base", dtype="float32")
    assert atoms.calc.dtype == torch.float32
    ref = direct(model32, atoms, 0, torch.float32)
    close(atoms.get_forces(), ref["forces"], torch.float32)
    close(atoms.get_stress(voigt=False), ref["stress"][0], torch.float32)


def _slab(seed=6):
    atoms = jittered_cell(seed)
    atoms.pbc = [True, True, False]
    atoms.cell[2] = [0.0, 0.0, 12.0]
    return atoms


class TestMMHCalculator(CalculatorTests):
    """The calculator battery of `mmh_ase.testing` on each head."""

    @pytest.fixture(params=HEADS)
    def calculator(self, request):
        return MMHCalculator(shared_model(), head=request.param, default_dtype="float64")

    @pytest.fixture
    def structures(self):
        return [jittered_cell(4), atoms_of(molecule(2)), _slab()]


def test_a_slab_with_a_three_dimensional_cell_has_a_stress():
    atoms = _slab()
    atoms.calc = MMHCalculator(shared_model(), head="base")
    assert np.abs(atoms.get_stress()).max() > 1e-4


def test_per_atom_energies_and_net_force_in_float32():
    check_energies_sum_to_the_energy(
        MMHCalculator(shared_model(torch.float32), head="base"),
        jittered_cell(5),
        atol=5e-6,
    )


def test_results_are_cached_and_recomputed_after_a_move():
    atoms = jittered_cell(7)
    calc = MMHCalculator(shared_model(), head="new")
    atoms.calc = calc
    e = atoms.get_potential_energy()
    calls = []
    original = calc.evaluate
    calc.evaluate = lambda *a, **k: calls.append(1) or original(*a, **k)
    assert atoms.get_potential_energy() == e
    atoms.get_forces()
    assert not calls  # energy and forces come from one evaluation
    atoms.positions[0] += 0.05
    assert atoms.get_potential_energy() != e
    assert len(calls) == 1
    atoms.get_stress()  # computed with the energy: no second evaluation
    assert len(calls) == 1


def test_model_file_and_single_head_model(model_file, tmp_path):
    """A file loads like the model object; a one-head model needs no head."""
    atoms = jittered_cell(8)
    from_file = MMHCalculator(model_file, head="new")
    in_memory = MMHCalculator(shared_model(), head="new")
    assert from_file.model_path == model_file and from_file.heads == list(HEADS)
    assert from_file.get_potential_energy(atoms) == pytest.approx(
        in_memory.get_potential_energy(atoms), abs=1e-12
    )
    single = save_model(shared_model().extract_head("new"), tmp_path / "one.safetensors")
    calc = MMHCalculator(single)
    assert calc.head == "new"
    assert calc.get_potential_energy(atoms) == pytest.approx(
        in_memory.get_potential_energy(atoms), abs=1e-12
    )
    assert "one.safetensors" in repr(calc) and "'new'" in repr(calc)


def test_the_given_model_is_not_modified():
    model = tiny_model(**MODEL)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    MMHCalculator(model, head="base", dtype="float32")
    assert model.dtype == torch.float64 and model.heads == list(HEADS)
    assert all(p.requires_grad for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_unknown_element_is_named_with_the_element_table():
    atoms = Atoms("CFe", positions=[[0, 0, 0], [0, 0, 1.8]])
    atoms.calc = MMHCalculator(shared_model(), head="base")
    with pytest.raises(UnknownElementError, match=r"Fe \(26\).*H \(1\), C \(6\), O \(8\), Al"):
        atoms.get_potential_energy()


def test_prebuilt_batch_gives_the_calculator_results():
    atoms = jittered_cell(9)
    calc = MMHCalculator(shared_model(), head="base")
    batch = calc.build_batch(atoms)
    assert batch.num_edges > 0 and batch.dtype == torch.float64
    out = calc.evaluate(batch, stress=True)
    atoms.calc = calc
    energy = float(out["energy"].detach()[0])
    assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-12)
    np.testing.assert_allclose(out["forces"].numpy(), atoms.get_forces(), atol=1e-12)


def test_bad_arguments_are_rejected(model_file):
    with pytest.raises(ValueError, match="'float32' or 'float64'"):
        MMHCalculator(model_file, head="base", dtype="float16")
    with pytest.raises(ValueError, match="dispersion must be"):
        MMHCalculator(model_file, head="base", dispersion="d4")
    with pytest.raises(ValueError, match="dispersion is off"):
        MMHCalculator(model_file, head="base", dispersion_params={"functional": "pbe"})
    with pytest.raises(TypeError, match="model file path or a MultiHeadMACE"):
        MMHCalculator(42, head="base")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_agrees_with_cpu():
    atoms = jittered_cell(10)
    cpu = MMHCalculator(shared_model(), head="base")
    gpu = MMHCalculator(shared_model(), head="base", device="cuda")
    assert gpu.get_potential_energy(atoms) == pytest.approx(cpu.get_potential_energy(atoms))
    np.testing.assert_allclose(gpu.get_forces(atoms), cpu.get_forces(atoms), atol=1e-10)
    np.testing.assert_allclose(gpu.get_stress(atoms), cpu.get_stress(atoms), atol=1e-10)
