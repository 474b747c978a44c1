"""Batched evaluation equals the calculator, structure by structure."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase_kit import shared_model
from mmh_ase import BatchEvaluator, HeadSelectionError, MMHCalculator, evaluate_structures
from mmh_ase.testing import atoms_of, jittered_cell
from mmh_data import UnknownElementError
from mmh_heads.testing import molecule


def _structures():
    cells = [jittered_cell(seed) for seed in range(3)]
    al = bulk("Al", "fcc", a=4.05) * (2, 1, 1)
    al.rattle(0.05, seed=1)
    mols = [atoms_of(molecule(seed)) for seed in range(3)]
    boxed = atoms_of(molecule(7, numbers=(8, 1, 1)))
    boxed.cell = [9.0, 9.0, 9.0]  # a cell without periodicity: has a stress
    return [*cells, mols[0], al, mols[1], boxed, mols[2]]


@pytest.mark.parametrize("max_atoms", [4096, 9])
def test_batched_equals_calculator(max_atoms):
    model = shared_model()
    structures = _structures()
    results = BatchEvaluator(model, "new", max_atoms=max_atoms)(structures)
    calc = MMHCalculator(model, "new")
    for atoms, result in zip(structures, results, strict=True):
        atoms = atoms.copy()
        atoms.calc = calc
        assert result["energy"] == pytest.approx(atoms.get_potential_energy(), abs=1e-9)
        np.testing.assert_allclose(result["forces"], atoms.get_forces(), atol=1e-9)
        np.testing.assert_allclose(result["node_energy"], calc.results["node_energy"], atol=1e-9)
        if atoms.cell.rank == 3:
            np.testing.assert_allclose(result["stress"], atoms.get_stress(), atol=1e-9)
        else:
            assert "stress" not in result


def test_chunks_respect_max_atoms():
    evaluator = BatchEvaluator(shared_model(), "base", max_atoms=9)
    sizes = [len(a) for a in _structures()]
    chunks = list(evaluator.chunks(_structures()))
    assert [k for c in chunks for k in c] == list(range(len(sizes)))
    assert all(sum(sizes[k] for k in c) <= 9 or len(c) == 1 for c in chunks)
    assert len(chunks) > 1


def test_same_errors_as_calculator(model_file):
    with pytest.raises(HeadSelectionError, match="choose one with head"):
        evaluate_structures(model_file, [atoms_of(molecule())])
    with pytest.raises(HeadSelectionError, match="no head 'nope'"):
        evaluate_structures(model_file, [atoms_of(molecule())], head="nope")
    gold = Atoms("Au2", positions=[[0, 0, 0], [0, 0, 2.5]])
    with pytest.raises(UnknownElementError, match=r"Au \(79\)"):
        evaluate_structures(shared_model(), [atoms_of(molecule()), gold], head="base")
    with pytest.raises(ValueError, match="brings its own head"):
        BatchEvaluator(MMHCalculator(shared_model(), "base"), "new")
