"""Each kind of bad input gives a clear error (or one warning) naming file, frame and key."""

from __future__ import annotations

import warnings

import ase.io
import numpy as np
import pytest
from ase import Atoms
from mmh_data import (
    BadCellError,
    BadLabelError,
    CloseAtomsError,
    DataError,
    EmptyDatasetError,
    GraphBuilder,
    MalformedFileError,
    MissingFileError,
    MissingLabelWarning,
    UnknownElementError,
    UnknownHeadError,
    collate,
    compute_statistics,
    configurations_from_atoms,
    read_configurations,
)


def _write(path, frames):
    ase.io.write(path, frames, format="extxyz")
    return path


def test_malformed_extxyz_names_file_and_frame(tmp_path, make_atoms):
    path = _write(tmp_path / "broken.xyz", make_atoms(3))
    lines = path.read_text().splitlines()
    # Frames have 6 atoms: 8 lines per frame. Break an atom line of frame 1.
    lines[8 + 2 + 3] = "C  not-a-number  0.0  0.0  0.0 0.0 0.0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MalformedFileError) as info:
        read_configurations(path)
    assert info.value.file == str(path) and info.value.frame == 1
    assert "broken.xyz" in str(info.value) and "frame 1" in str(info.value)


def test_truncated_extxyz(tmp_path, make_atoms):
    path = _write(tmp_path / "cut.xyz", make_atoms(2))
    text = path.read_text().splitlines()
    path.write_text("\n".join(text[:-3]) + "\n")
    with pytest.raises(MalformedFileError, match=r"cut\.xyz.*frame 1"):
        read_configurations(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.xyz"
    with pytest.raises(MissingFileError) as info:
        read_configurations([path])
    assert info.value.file == str(path)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DataError)


def test_unknown_suffix(tmp_path):
    path = tmp_path / "data.cif"
    path.write_text("x")
    with pytest.raises(MalformedFileError, match="unknown file type"):
        read_configurations(path)


@pytest.mark.parametrize("prop,key", [("energy", "REF_energy"), ("forces", "REF_forces")])
def test_missing_label_warns_once_and_zeroes_weight(tmp_path, make_atoms, prop, key):
    frames = make_atoms(5)
    for k in (1, 2, 4):
        if prop == "energy":
            del frames[k].info[key]
        else:
            del frames[k].arrays[key]
    path = _write(tmp_path / "partial.xyz", frames)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        configs = read_configurations(path, head="wb97x")
    missing = [w for w in caught if issubclass(w.category, MissingLabelWarning)]
    assert len(missing) == 1
    message = str(missing[0].message)
    assert "'wb97x'" in message and repr(key) in message
    assert "3 of 5" in message and "partial.xyz" in message and "frame 1" in message
    weights = [getattr(c, f"{prop}_weight") for c in configs]
    assert weights == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert [getattr(c, prop) is None for c in configs] == [False, True, True, False, True]


def test_missing_label_becomes_zero_with_zero_weight_in_batch(make_atoms):
    frames = make_atoms(2)
    del frames[0].info["REF_energy"]
    with pytest.warns(MissingLabelWarning):
        configs = configurations_from_atoms(frames)
    batch = collate([GraphBuilder(4.0)(c) for c in configs])
    assert batch.energy[0] == 0 and batch.energy_weight.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("where", ["energy", "forces", "stress"])
def test_nan_and_inf_labels(tmp_path, make_atoms, bad, where):
    frames = make_atoms(3, periodic=True, stress=True)
    if where == "energy":
        frames[2].info["REF_energy"] = bad
    elif where == "forces":
        frames[2].arrays["REF_forces"][1, 2] = bad
    else:
        frames[2].info["REF_stress"][0] = bad
    path = _write(tmp_path / "nan.xyz", frames)
    with pytest.raises(BadLabelError) as info:
        read_configurations(path)
    assert info.value.frame == 2 and info.value.file == str(path)
    assert info.value.key == f"REF_{where}"
    assert f"REF_{where}" in str(info.value)


def test_wrong_forces_shape():
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]])
    atoms.info["REF_energy"] = 0.0
    atoms.info["REF_forces"] = np.zeros((3, 3))  # wrong length
    with pytest.raises(BadLabelError, match="REF_forces"):
        configurations_from_atoms([atoms])


def test_close_atoms(tmp_path):
    good = Atoms("H3", positions=[[0, 0, 0], [0, 0, 1.0], [0, 0, 2.0]])
    bad = Atoms("H3", positions=[[0, 0, 0], [0, 0, 1.0], [0, 0, 1.05]])
    for atoms in (good, bad):
        atoms.info["REF_energy"] = 0.0
    path = _write(tmp_path / "close.xyz", [good, bad])
    with pytest.raises(CloseAtomsError) as info:
        read_configurations(path)
    assert info.value.frame == 1 and "0.05" in str(info.value) and "close.xyz" in str(info.value)


@pytest.mark.parametrize("min_distance", [0.1, None])
def test_zero_cell_with_pbc(tmp_path, min_distance):
    good = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.8]], cell=np.eye(3) * 5.0, pbc=True)
    bad = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.8]], cell=np.zeros((3, 3)), pbc=True)
    for atoms in (good, bad):
        atoms.info["REF_energy"] = 0.0
    path = _write(tmp_path / "zero.xyz", [good, bad])
    with pytest.raises(BadCellError) as info:
        read_configurations(path, min_distance=min_distance)
    err = info.value
    assert (err.frame, err.key) == (1, "cell") and "zero.xyz" in str(err)
    assert isinstance(err, DataError) and "\n" not in str(err)


def test_cell_zero_only_along_a_periodic_direction():
    slab = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.8]], cell=[[4, 0, 0], [0, 4, 0], [0, 0, 0]])
    slab.info["REF_energy"] = 0.0
    slab.pbc = [True, True, False]  # no vacuum vector needed: fine
    configurations_from_atoms([slab])
    slab.pbc = True
    with pytest.raises(BadCellError, match="pbc"):
        configurations_from_atoms([slab], source="slab.xyz")


def test_close_periodic_image():
    atoms = Atoms("H2", positions=[[0, 0, 0], [2.95, 0, 0]], cell=np.eye(3) * 3.0, pbc=True)
    atoms.info["REF_energy"] = 0.0
    with pytest.raises(CloseAtomsError, match="shift"):
        configurations_from_atoms([atoms], source="cell.xyz")
    # without pbc the two atoms are far apart
    atoms.pbc = False
    with pytest.warns(MissingLabelWarning):
        configurations_from_atoms([atoms])


def test_element_outside_table(tmp_path, make_atoms):
    frames = make_atoms(3, elements=(1, 6))
    frames[1].numbers[0] = 26
    path = _write(tmp_path / "fe.xyz", frames)
    with pytest.raises(UnknownElementError) as info:
        read_configurations(path, elements=[1, 6, 8])
    assert info.value.frame == 1 and "Fe" in str(info.value) and "fe.xyz" in str(info.value)


def test_empty_inputs(tmp_path):
    path = tmp_path / "empty.xyz"
    path.write_text("")
    with pytest.raises(EmptyDatasetError, match=r"empty\.xyz"):
        read_configurations(path)
    with pytest.raises(EmptyDatasetError):
        read_configurations([])
    with pytest.raises(EmptyDatasetError):
        collate([])
    with pytest.raises(EmptyDatasetError):
        compute_statistics([], cutoff=5.0)


def test_unknown_head_is_an_error_not_the_last_head(tmp_path, make_atoms):
    frames = make_atoms(3)
    frames[2].info["head"] = "typo_head"
    path = _write(tmp_path / "heads.xyz", frames)
    with pytest.raises(UnknownHeadError) as info:
        read_configurations(path, head="pbe", heads=["pbe", "r2scan"])
    err = info.value
    assert err.file == str(path) and err.frame == 2 and err.key == "head"
    assert "typo_head" in str(err) and "r2scan" in str(err)


def test_default_head_not_declared(make_atoms):
    with pytest.raises(UnknownHeadError, match="default head 'Default'"):
        configurations_from_atoms(make_atoms(1), heads=["pbe"])


def test_graph_builder_rejects_unknown_head(make_configs):
    (config,) = make_configs(1, head="omol")
    with pytest.raises(UnknownHeadError, match="omol"):
        GraphBuilder(5.0, heads=["pbe", "r2scan"])(config)


def test_negative_weight(make_atoms):
    frames = make_atoms(1)
    frames[0].info["config_weight"] = -1.0
    with pytest.raises(BadLabelError, match="config_weight"):
        configurations_from_atoms(frames)
