"""Lazy random-access sources equal what the readers give, for every format."""

from __future__ import annotations

import pickle
import warnings

import ase.db
import ase.io
import lmdb
import numpy as np
import pytest
from mmh_data import (
    ConcatSource,
    MalformedFileError,
    SubsetSource,
    UnknownHeadError,
    open_source,
    open_sources,
    read_configurations,
    write_lmdb,
)
from mmh_data._lmdb import record_key


def _same(a, b):
    assert a.head == b.head and a.config_type == b.config_type
    np.testing.assert_array_equal(a.atomic_numbers, b.atomic_numbers)
    np.testing.assert_allclose(a.positions, b.positions, rtol=0, atol=1e-12)
    assert a.energy == pytest.approx(b.energy, abs=1e-12)
    np.testing.assert_allclose(a.forces, b.forces, rtol=0, atol=1e-12)
    assert (a.source_file, a.source_index) == (b.source_file, b.source_index)


def _write_db(path, frames):
    with ase.db.connect(path) as conn:
        for atoms in frames:
            conn.write(
                atoms,
                key_value_pairs={"REF_energy": atoms.info["REF_energy"]},
                data={"REF_forces": atoms.arrays["REF_forces"]},
            )


def _frames(make_atoms):
    return make_atoms(12, n=5, periodic=True, seed=1) + make_atoms(7, n=3, seed=2)


def _files(tmp_path, make_atoms):
    frames = _frames(make_atoms)
    xyz = tmp_path / "data.xyz"
    ase.io.write(xyz, frames, format="extxyz")
    db = tmp_path / "data.db"
    _write_db(db, frames)
    store = tmp_path / "data.lmdb"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_lmdb(store, read_configurations(xyz, head="pbe"))
    return xyz, db, store


@pytest.mark.parametrize("kind", ["xyz", "db", "lmdb"])
def test_random_access_equals_the_reader(tmp_path, make_atoms, kind):
    path = dict(zip(("xyz", "db", "lmdb"), _files(tmp_path, make_atoms), strict=True))[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = read_configurations(path, head="pbe", heads=["pbe"])
    source = open_source(path, head="pbe", heads=["pbe"])
    assert len(source) == len(expected) == 19
    for k in (18, 0, 7, 3, -1):
        _same(source[k], expected[k])
    assert [c.source_index for c in source] == [c.source_index for c in expected]
    # a worker gets a copy that re-opens the file
    clone = pickle.loads(pickle.dumps(source))
    _same(clone[5], expected[5])
    with pytest.raises(IndexError):
        source[19]


def test_subsets_and_concatenations(tmp_path, make_atoms):
    xyz, _, store = _files(tmp_path, make_atoms)
    both = open_sources([xyz, store], head="pbe")
    assert isinstance(both, ConcatSource) and len(both) == 38
    assert both[19].source_index == 0 and both[18].source_index == 18
    _same(both[20], open_source(store)[1])
    sub = SubsetSource(both, [37, 2, 20])
    assert [c.source_index for c in sub] == [18, 2, 1]
    assert len(both[30:33]) == 3


def test_an_lmdb_of_another_head_is_refused_at_open(tmp_path, make_atoms):
    _, _, store = _files(tmp_path, make_atoms)
    with pytest.raises(UnknownHeadError, match=r"data\.lmdb.*\['pbe'\]"):
        open_source(store, heads=["r2scan"])


def test_missing_and_corrupt_records_name_file_and_record(tmp_path, make_atoms):
    _, _, store = _files(tmp_path, make_atoms)
    env = lmdb.open(str(store), subdir=False, lock=False)
    with env.begin(write=True) as txn:
        txn.delete(record_key(4))
        txn.put(record_key(6), b"MMHC garbage")
    env.close()
    source = open_source(store)
    with pytest.raises(MalformedFileError, match=r"data\.lmdb.*frame 4.*missing"):
        source[4]
    with pytest.raises(MalformedFileError, match=r"data\.lmdb.*frame 6"):
        source[6]


def test_an_ase_lmdb_equals_the_sqlite_db_and_names_a_missing_record(tmp_path, make_atoms):
    pytest.importorskip("ase_db_backends", reason="ASE-LMDB needs mmh-data[aselmdb]")
    _, db, _ = _files(tmp_path, make_atoms)
    path = tmp_path / "data.aselmdb"
    _write_db(path, _frames(make_atoms))
    source = open_source(path, head="pbe", heads=["pbe"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = read_configurations(db, head="pbe", heads=["pbe"])
    assert len(source) == 19
    for k in (0, 11, 18):
        a, b = source[k], expected[k]
        np.testing.assert_allclose(a.positions, b.positions, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.forces, b.forces, rtol=0, atol=1e-12)
        assert a.energy == pytest.approx(b.energy, abs=1e-12) and a.source_index == k
    clone = pickle.loads(pickle.dumps(source))
    np.testing.assert_array_equal(clone[5].atomic_numbers, expected[5].atomic_numbers)
    # a record missing from the file is named by file and frame
    broken = tmp_path / "broken.aselmdb"
    _write_db(broken, _frames(make_atoms))
    env = lmdb.open(str(broken), subdir=False, lock=False)
    with env.begin(write=True) as txn:
        txn.delete(b"4")
    env.close()
    with pytest.raises(MalformedFileError, match=r"broken\.aselmdb.*frame 3.*missing"):
        open_source(broken, head="pbe")[3]


def test_an_ase_lmdb_source_opened_in_the_parent_serves_forked_workers(tmp_path, make_atoms):
    pytest.importorskip("ase_db_backends", reason="ASE-LMDB needs mmh-data[aselmdb]")
    import torch

    path = tmp_path / "workers.aselmdb"
    _write_db(path, _frames(make_atoms))
    source = open_source(path, head="pbe")
    expected = [source[i].energy for i in range(len(source))]  # the parent has it open
    loader = torch.utils.data.DataLoader(
        range(len(source)),
        batch_size=4,
        num_workers=2,
        multiprocessing_context="fork",
        collate_fn=lambda index: [source[i].energy for i in index],
    )
    assert [e for batch in loader for e in batch] == expected
    assert source[3].energy == expected[3]  # and the parent reopens it after the fork


def test_a_truncated_extxyz_names_the_frame(tmp_path, make_atoms):
    xyz, _, _ = _files(tmp_path, make_atoms)
    text = xyz.read_text().splitlines()
    xyz.write_text("\n".join(text[:-2]) + "\n")
    with pytest.raises(MalformedFileError, match="frame 18"):
        open_source(xyz)
