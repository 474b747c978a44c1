"""Reading extxyz, ASE databases and in-memory atoms into configurations."""

from __future__ import annotations

import warnings

import ase.db
import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from mmh_data import (
    Configuration,
    KeySpec,
    MissingLabelWarning,
    configurations_from_atoms,
    read_configurations,
    voigt_to_matrix,
)


def test_extxyz_round_trip_of_labels(tmp_path, make_atoms):
    frames = make_atoms(4, periodic=True, stress=True)
    frames[1].info["config_type"] = "bulk"
    frames[2].info["config_weight"] = 2.5
    frames[3].info["config_forces_weight"] = 0.5
    path = tmp_path / "train.xyz"
    ase.io.write(path, frames, format="extxyz")
    configs = read_configurations(path, head="pbe")
    assert len(configs) == 4
    for k, (c, a) in enumerate(zip(configs, frames, strict=True)):
        assert c.head == "pbe"
        assert c.source_file == str(path) and c.source_index == k
        # extxyz stores 8 decimals
        np.testing.assert_allclose(c.positions, a.positions, atol=1e-8)
        np.testing.assert_allclose(c.cell, a.cell.array, atol=1e-8)
        assert c.pbc.tolist() == [True, True, True]
        assert c.energy == pytest.approx(a.info["REF_energy"])
        np.testing.assert_allclose(c.forces, a.arrays["REF_forces"], atol=1e-8)
        np.testing.assert_allclose(c.stress, voigt_to_matrix(a.info["REF_stress"]), atol=1e-8)
    assert configs[1].config_type == "bulk" and configs[0].config_type == "Default"
    assert configs[2].weight == 2.5
    assert configs[3].forces_weight == 0.5 and configs[3].energy_weight == 1.0


def test_stress_formats():
    voigt = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # xx yy zz yz xz xy
    expected = np.array([[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]])
    np.testing.assert_array_equal(voigt_to_matrix(voigt), expected)
    np.testing.assert_array_equal(voigt_to_matrix(expected.reshape(9)), expected)
    np.testing.assert_array_equal(voigt_to_matrix(expected), expected)
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.8]], cell=np.eye(3) * 5, pbc=True)
    atoms.info.update(REF_energy=1.0, REF_stress=expected.reshape(9))
    atoms.arrays["REF_forces"] = np.zeros((2, 3))
    (c,) = configurations_from_atoms([atoms])
    np.testing.assert_array_equal(c.stress, expected)


def test_head_key_routes_frames(tmp_path, make_atoms):
    frames = make_atoms(3)
    frames[1].info["head"] = "r2scan"
    path = tmp_path / "mixed.xyz"
    ase.io.write(path, frames, format="extxyz")
    configs = read_configurations(path, head="pbe", heads=["pbe", "r2scan"])
    assert [c.head for c in configs] == ["pbe", "r2scan", "pbe"]


def test_custom_keys(make_atoms):
    frames = make_atoms(2)
    for a in frames:
        a.info["E_dft"] = a.info.pop("REF_energy")
        a.arrays["F_dft"] = a.arrays.pop("REF_forces")
        a.info["level"] = "ccsd"
    keys = KeySpec(energy="E_dft", forces="F_dft", head="level")
    configs = configurations_from_atoms(frames, keys=keys)
    assert all(c.head == "ccsd" and c.energy is not None and c.forces is not None for c in configs)


def test_calculator_labels_only_when_asked():
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    atoms.calc = SinglePointCalculator(atoms, energy=-1.5, forces=np.ones((2, 3)))
    with pytest.warns(MissingLabelWarning, match="use_calculator=True"):
        (c,) = configurations_from_atoms([atoms])
    assert c.energy is None and c.energy_weight == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (c,) = configurations_from_atoms([atoms], keys=KeySpec.from_calculator())
    assert c.energy == -1.5 and c.energy_weight == 1.0
    np.testing.assert_array_equal(c.forces, np.ones((2, 3)))


def test_extxyz_plain_energy_key_goes_through_calculator(tmp_path):
    # ASE's extxyz reader moves "energy"/"forces" into a SinglePointCalculator.
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    atoms.calc = SinglePointCalculator(atoms, energy=-2.0, forces=np.zeros((2, 3)))
    path = tmp_path / "calc.xyz"
    ase.io.write(path, [atoms], format="extxyz")
    (c,) = read_configurations(path, keys=KeySpec.from_calculator())
    assert c.energy == -2.0 and c.forces is not None


@pytest.mark.parametrize("suffix", [".db", ".json"])
def test_ase_database(tmp_path, make_atoms, suffix):
    frames = make_atoms(3, periodic=True)
    path = tmp_path / f"train{suffix}"
    with ase.db.connect(str(path)) as db:
        for a in frames:
            a = a.copy()
            forces = a.arrays.pop("REF_forces")
            db.write(
                a, REF_energy=a.info.pop("REF_energy"), head="pbe", data={"REF_forces": forces}
            )
    configs = read_configurations(path, heads=["pbe"])
    assert len(configs) == 3
    for c, a in zip(configs, frames, strict=True):
        assert c.head == "pbe"
        assert c.energy == pytest.approx(a.info["REF_energy"])
        np.testing.assert_allclose(c.forces, a.arrays["REF_forces"])


def test_ase_database_with_calculator(tmp_path):
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=np.eye(3) * 4, pbc=True)
    atoms.calc = SinglePointCalculator(
        atoms, energy=-3.0, forces=np.ones((2, 3)), stress=np.arange(6.0)
    )
    path = tmp_path / "calc.db"
    with ase.db.connect(str(path)) as db:
        db.write(atoms)
    (c,) = read_configurations(path, keys=KeySpec.from_calculator())
    assert c.energy == -3.0
    np.testing.assert_array_equal(c.stress, voigt_to_matrix(np.arange(6.0)))


def test_aselmdb_needs_backend_or_works(tmp_path):
    path = tmp_path / "x.aselmdb"
    try:
        import ase_db_backends  # noqa: F401
    except ImportError:
        path.write_bytes(b"")
        with pytest.raises(Exception, match="ase-db-backends"):
            read_configurations(path)
        return
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.zeros((2, 3)))
    with ase.db.connect(str(path)) as db:
        db.write(atoms)
    (c,) = read_configurations(path, keys=KeySpec.from_calculator())
    assert c.energy == -1.0


def test_several_files_and_atoms_list(tmp_path, make_atoms):
    a, b = make_atoms(2, seed=1), make_atoms(3, seed=2)
    ase.io.write(tmp_path / "a.xyz", a)
    ase.io.write(tmp_path / "b.extxyz", b)
    configs = read_configurations([tmp_path / "a.xyz", tmp_path / "b.extxyz"])
    assert [c.source_index for c in configs] == [0, 1, 0, 1, 2]
    from_list = configurations_from_atoms(a + b, source="memory")
    assert all(isinstance(c, Configuration) for c in from_list)
    assert from_list[3].source_file == "memory" and from_list[3].source_index == 3


def test_config_type_weights(make_atoms):
    frames = make_atoms(2)
    frames[0].info["config_type"] = "md"
    frames[0].info["config_weight"] = 2.0
    configs = configurations_from_atoms(frames, config_type_weights={"md": 0.5})
    assert configs[0].weight == 1.0 and configs[1].weight == 1.0


def test_to_atoms_round_trip(make_configs):
    (c,) = make_configs(1, periodic=True, stress=True, head="x")
    c = c.replace(forces_weight=0.25, weight=2.0)
    (back,) = configurations_from_atoms([c.to_atoms()])
    assert back.head == "x"
    np.testing.assert_allclose(back.stress, c.stress)
    np.testing.assert_allclose(back.forces, c.forces)
    assert back.energy == c.energy
    assert (back.forces_weight, back.weight, back.energy_weight) == (0.25, 2.0, 1.0)
