"""The LMDB store: binary round trip (no pickle), metadata, lazy sharded dataset."""

from __future__ import annotations

import json
import pickle

import lmdb
import numpy as np
import pytest
import torch
from mmh_data import (
    Configuration,
    EmptyDatasetError,
    GraphBuilder,
    LMDBDataset,
    LMDBReader,
    MalformedFileError,
    MissingFileError,
    UnknownHeadError,
    graph_loader,
    read_configurations,
    update_lmdb_metadata,
    write_lmdb,
)
from mmh_data._encoding import decode_configuration, encode_configuration


def _same(a: Configuration, b: Configuration) -> None:
    np.testing.assert_array_equal(a.atomic_numbers, b.atomic_numbers)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.cell, b.cell)
    np.testing.assert_array_equal(a.pbc, b.pbc)
    assert a.energy == b.energy
    for name in ("forces", "stress"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    for name in (
        "weight",
        "energy_weight",
        "forces_weight",
        "stress_weight",
        "config_type",
        "head",
        "source_file",
        "source_index",
    ):
        assert getattr(a, name) == getattr(b, name), name


def test_record_round_trip_is_exact(make_configs):
    configs = make_configs(3, periodic=True, stress=True, head="pbe")
    configs.append(
        Configuration(
            atomic_numbers=[1],
            positions=[[0, 0, 0]],
            energy=-13.6,
            config_type="IsolatedAtom",
            head="héad ünicode",
        )
    )
    configs.append(configs[0].replace(energy=None, weight=0.3, pbc=[True, False, True]))
    for c in configs:
        record = encode_configuration(c)
        assert not record.startswith(b"\x80")  # not a pickle
        _same(c, decode_configuration(record))


def test_store_round_trip_and_metadata(tmp_path, make_configs):
    configs = make_configs(5, head="a") + make_configs(3, periodic=True, stress=True, head="b")
    configs = [c.replace(source_file="x.xyz", source_index=k) for k, c in enumerate(configs)]
    path = tmp_path / "store.lmdb"
    meta = write_lmdb(path, iter(configs), metadata={"keys": {"energy": "E"}}, commit_every=3)
    assert meta["count"] == 8 and meta["heads"] == {"a": 5, "b": 3}
    assert meta["elements"] == [1, 6, 8] and meta["files"] == ["x.xyz"]
    with LMDBReader(path) as store:
        assert len(store) == 8 and store.metadata["keys"] == {"energy": "E"}
        for a, b in zip(configs, store, strict=True):
            _same(a, b)
        _same(configs[-1], store[-1])
        with pytest.raises(IndexError):
            store[8]
    back = read_configurations(path, heads=["a", "b"])
    assert [c.head for c in back] == ["a"] * 5 + ["b"] * 3
    with pytest.raises(UnknownHeadError, match=r"store\.lmdb"):
        read_configurations(path, heads=["a"])
    update_lmdb_metadata(path, {"statistics": {"a": {"avg": 1.0}}})
    assert LMDBReader(path).metadata["statistics"] == {"a": {"avg": 1.0}}
    with pytest.raises(ValueError, match="managed"):
        update_lmdb_metadata(path, {"count": 3})


def test_no_pickle_anywhere(tmp_path, make_configs):
    path = tmp_path / "s.lmdb"
    write_lmdb(path, make_configs(4))
    env = lmdb.open(str(path), subdir=False, readonly=True, lock=False)
    with env.begin() as txn:
        for key, value in txn.cursor():
            if key == b"__mmh_metadata__":
                json.loads(value)
            else:
                assert value[:4] == b"MMHC"
                with pytest.raises(pickle.UnpicklingError):
                    pickle.loads(value)
    env.close()


def test_writer_refuses_overwrite_and_empty(tmp_path, make_configs):
    path = tmp_path / "s.lmdb"
    write_lmdb(path, make_configs(1))
    with pytest.raises(FileExistsError):
        write_lmdb(path, make_configs(1))
    write_lmdb(path, make_configs(2), overwrite=True)
    assert len(LMDBReader(path)) == 2
    with pytest.raises(EmptyDatasetError):
        write_lmdb(tmp_path / "empty.lmdb", [])
    assert not (tmp_path / "empty.lmdb").exists()


def test_store_grows_beyond_initial_map_size(tmp_path, monkeypatch, make_configs):
    import mmh_data._lmdb as store_module

    monkeypatch.setattr(store_module, "_INITIAL_MAP_SIZE", 64 * 1024)
    configs = make_configs(40, n=30)
    write_lmdb(tmp_path / "big.lmdb", configs, commit_every=7)
    assert len(LMDBReader(tmp_path / "big.lmdb")) == 40


def test_reader_errors(tmp_path):
    with pytest.raises(MissingFileError):
        LMDBReader(tmp_path / "missing.lmdb")
    bogus = tmp_path / "bogus.lmdb"
    bogus.write_bytes(b"not an lmdb file at all" * 100)
    with pytest.raises(MalformedFileError, match=r"bogus\.lmdb"):
        LMDBReader(bogus)


@pytest.mark.parametrize("drop_last", [False, True])
def test_sharding_covers_the_store(tmp_path, make_configs, drop_last):
    configs = make_configs(10)
    path = tmp_path / "s.lmdb"
    write_lmdb(path, configs)
    world = 3
    shards = [
        LMDBDataset(path, rank=r, world_size=world, drop_last=drop_last) for r in range(world)
    ]
    lengths = [len(s) for s in shards]
    assert lengths == ([3, 3, 3] if drop_last else [4, 4, 4])
    seen = [s.global_index(k) for s in shards for k in range(len(s))]
    if drop_last:
        assert len(set(seen)) == 9
    else:
        assert set(seen) == set(range(10))  # every record, two repeated as padding
    energies = {c.energy for c in configs}
    assert all(shards[0][k].energy in energies for k in range(len(shards[0])))
    with pytest.raises(ValueError, match="both"):
        LMDBDataset(path, rank=0)


def test_reader_remaps_and_survives_pickling(tmp_path, make_configs):
    configs = make_configs(12)
    path = tmp_path / "s.lmdb"
    write_lmdb(path, configs)
    reader = LMDBReader(path, remap_every=5)
    energies = [reader[k].energy for k in range(12)] * 2
    assert energies[:12] == [c.energy for c in configs]
    clone = pickle.loads(pickle.dumps(reader))  # DataLoader workers receive a copy
    assert clone[3].energy == configs[3].energy


def test_lazy_dataset_through_dataloader_workers(tmp_path, make_configs, dtype):
    configs = make_configs(16, head="pbe")
    path = tmp_path / "s.lmdb"
    write_lmdb(path, configs)
    dataset = LMDBDataset(path, transform=GraphBuilder(4.0, heads=["pbe"], dtype=dtype))
    batches = list(graph_loader(dataset, batch_size=4, num_workers=2))
    energies = torch.cat([b.energy for b in batches]).tolist()
    expected = torch.tensor([c.energy for c in configs], dtype=dtype).tolist()
    assert energies == expected
    assert batches[0].positions.dtype == dtype


def test_corrupt_record(make_configs):
    record = encode_configuration(make_configs(1)[0])
    with pytest.raises(MalformedFileError, match="corrupt"):
        decode_configuration(record[:200])
    with pytest.raises(MalformedFileError, match="not an mmh record"):
        decode_configuration(b"XXXX" + record[4:])
