"""The field table: every stage of the data flow carries exactly its labels, and a
structure's labels survive every representation unchanged."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from mmh_data import (
    BRIDGING_PROPERTIES,
    LABEL_NAMES,
    LABELS,
    METRIC_PROPERTIES,
    METRIC_UNITS,
    AtomicGraph,
    BadLabelError,
    Batch,
    Configuration,
    KeySpec,
    build_graph,
    collate,
    configurations_from_atoms,
    label_field,
    matrix_to_voigt,
    voigt_to_matrix,
)
from mmh_data._encoding import decode_configuration, encode_configuration


def _field_names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("cls", [Configuration, AtomicGraph, Batch, KeySpec])
def test_every_representation_has_each_label_and_its_weight(cls):
    names = _field_names(cls)
    for field in LABELS:
        assert field.name in names, f"{cls.__name__} lacks label {field.name!r}"
        assert field.weight_name in names, f"{cls.__name__} lacks {field.weight_name!r}"


def test_the_label_lists_of_bridging_and_metrics_are_the_table():
    assert tuple(BRIDGING_PROPERTIES) == LABEL_NAMES
    assert tuple(METRIC_PROPERTIES) == LABEL_NAMES
    assert set(METRIC_UNITS) == set(LABEL_NAMES)


def test_key_defaults_come_from_the_table():
    keys = KeySpec()
    for field in LABELS:
        assert keys.label_key(field.name) == field.key
        assert keys.weight_key(field.name) == field.weight_key
    calc = KeySpec.from_calculator()
    assert all(calc.label_key(name) == name for name in LABEL_NAMES)


def test_unknown_label_names_the_labels():
    with pytest.raises(KeyError, match="energy"):
        label_field("dipole")


def test_voigt_round_trip_is_exact():
    s = np.random.default_rng(0).normal(size=(3, 3))
    s = s + s.T
    np.testing.assert_array_equal(voigt_to_matrix(matrix_to_voigt(s)), s)


def _structure(stress: bool) -> Configuration:
    rng = np.random.default_rng(1)
    n = 5
    return Configuration(
        atomic_numbers=[8, 1, 1, 6, 1],
        positions=rng.normal(size=(n, 3)) * 1.5,
        cell=np.diag([7.0, 7.5, 8.0]) if stress else None,
        pbc=[stress] * 3,
        energy=-123.456789,
        forces=rng.normal(size=(n, 3)),
        stress=(lambda a: a + a.T)(rng.normal(size=(3, 3)) * 0.01) if stress else None,
        energy_weight=0.5,
        forces_weight=2.0,
        stress_weight=3.0 if stress else 1.0,
        weight=1.5,
        head="pbe",
    )


def _labels(obj) -> dict[str, object]:
    out = {}
    for field in LABELS:
        value = getattr(obj, field.name)
        out[field.name] = None if value is None else np.asarray(value, dtype=np.float64)
        out[field.weight_name] = float(getattr(obj, field.weight_name))
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if a[key] is None or b[key] is None:
            assert a[key] is None and b[key] is None, key
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("stress", [True, False], ids=["crystal", "molecule"])
def test_labels_survive_every_representation(stress):
    config = _structure(stress)
    want = _labels(config)
    # ase.Atoms with the default keys, and back
    (again,) = configurations_from_atoms(
        [config.to_atoms()], keys=KeySpec(), head="pbe", min_distance=None
    )
    _assert_same(_labels(again), want)
    # the binary record of the LMDB store
    _assert_same(_labels(decode_configuration(encode_configuration(config))), want)
    # graph and batch: a missing label is zeros with weight 0
    graph = build_graph(config, cutoff=3.0, heads=None, dtype=torch.float64)
    batch = collate([graph, graph])
    for field in LABELS:
        value = want[field.name]
        expected = np.zeros(field.value_shape(config.num_atoms)) if value is None else value
        np.testing.assert_array_equal(getattr(graph, field.name).numpy(), expected)
        stacked = getattr(batch, field.name).numpy()
        if field.per_atom:
            np.testing.assert_array_equal(stacked, np.concatenate([expected, expected]))
        else:
            np.testing.assert_array_equal(stacked, np.stack([expected, expected]))
        w = getattr(batch, field.weight_name).numpy()
        np.testing.assert_array_equal(w, [want[field.weight_name]] * 2)


@pytest.mark.parametrize("field", LABELS, ids=LABEL_NAMES)
def test_a_bad_label_names_its_key(field):
    shape = field.value_shape(2)
    bad = np.full(shape if shape else (), np.nan)
    with pytest.raises(BadLabelError, match=field.name):
        Configuration(
            atomic_numbers=[1, 1], positions=[[0, 0, 0], [0, 0, 0.74]], **{field.name: bad}
        )
