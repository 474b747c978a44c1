"""Domain-bridging sets in the recipes: every structure trains exactly the heads it has
labels for; configuration errors name the key."""

from __future__ import annotations

import ase.io
import pytest
import torch
from heads_for_tests import tiny_model
from mmh_data import GraphBuilder, collate
from mmh_data import datasets as bundled
from mmh_heads import save_model
from mmh_train import (
    ConfigError,
    LossWeights,
    load_config,
    prepare_finetune,
    prepare_pretrain,
    weighted_loss_terms,
)
from train_kit import pretrain_config, write_config

#: Which level labels each of the five bridging frames carries.
LAYOUT = [("gfn1", "gfn2"), ("gfn1",), ("gfn2",), (), ("gfn2-forces",)]
SHIFT = {"gfn1": 0.0, "gfn2": -7.5}


def _bridging_file(path):
    """Five bulk crystals with GFN1-like and GFN2-like label sets as in ``LAYOUT``."""
    frames = bundled.load_atoms("bulk", "valid")[:5]
    out = []
    for atoms, levels in zip(frames, LAYOUT, strict=True):
        energy, forces = atoms.info["REF_energy"], atoms.arrays["REF_forces"]
        a = atoms.copy()
        a.info = {"config_type": "bridge"}
        a.arrays = {k: v for k, v in a.arrays.items() if k in ("numbers", "positions")}
        for level in levels:
            if level == "gfn2-forces":
                a.arrays["gfn2_forces"] = 0.5 * forces
                continue
            a.info[f"{level}_energy"] = energy + SHIFT[level] * len(a)
            a.arrays[f"{level}_forces"] = forces + (0.1 if level == "gfn2" else 0.0)
        out.append(a)
    ase.io.write(path, out, format="extxyz")
    return path


def _pretrain(tmp_path, bridging, **heads):
    heads = heads or {
        "pbe": {"dataset": "bulk", "max_train": 6},
        "hse": {"dataset": "bulk", "max_train": 4},
    }
    cfg = pretrain_config(tmp_path, heads=heads, bridging=bridging)
    return load_config(write_config(tmp_path / "c.yaml", cfg))


def _labels():
    return {"pbe": {"level": "gfn1"}, "hse": {"energy": "gfn2_energy", "forces": "gfn2_forces"}}


def test_each_frame_trains_exactly_the_heads_it_has_labels_for(tmp_path):
    dbs = _bridging_file(tmp_path / "dbs.xyz")
    config = _pretrain(tmp_path, {"files": [str(dbs)], "labels": _labels(), "weight": 2.0})
    setup = prepare_pretrain(config)
    per_head = {
        h: [c for c in s.train if c.source_file == str(dbs)] for h, s in setup.splits.items()
    }
    assert [c.source_index for c in per_head["pbe"]] == [0, 1]
    assert [c.source_index for c in per_head["hse"]] == [0, 2, 4]
    assert setup.summary["bridging"] == {
        "included": 5,
        "available": 5,
        "per_head": {"pbe": 2, "hse": 3},
    }
    # the structures are in the training streams, not only in the splits
    sizes = {s.name: s.size for s, _ in setup.streams}
    assert sizes == {"pbe": 6 + 2, "hse": 4 + 3}
    # labels and weights: each head sees its own level, nothing else
    frames = ase.io.read(dbs, index=":")
    for c in per_head["pbe"]:
        assert c.energy == frames[c.source_index].info["gfn1_energy"]
        assert c.head == "pbe" and c.weight == 2.0
    forces_only = per_head["hse"][2]
    assert forces_only.energy is None and forces_only.energy_weight == 0
    assert forces_only.forces_weight == 1.0
    # with a tiny model: the loss terms and label counts per head
    model = setup.model
    builder = GraphBuilder(model.backbone.config.r_max, heads=model.heads, dtype=model.dtype)
    configs = per_head["pbe"] + per_head["hse"]
    batch = collate([builder(c) for c in configs])
    output = model(batch, compute_stress=False)
    weights = LossWeights(stress=0.0)
    counts = {}
    for k, head in enumerate(model.heads):
        one_hot = torch.zeros(len(model.heads), dtype=model.dtype)
        one_hot[k] = 1.0
        terms = weighted_loss_terms(batch, output, weights, one_hot)
        mine = batch.head == k
        counts[head] = {
            "energy": int(((batch.energy_weight != 0) & mine).sum()),
            "forces": int(((batch.forces_weight != 0) & mine).sum()),
        }
        # the energy term of a head is that of its frames, against its own level
        own = [c for c in configs if c.head == head and c.energy is not None]
        ref = torch.tensor([c.energy for c in own], dtype=model.dtype)
        pred = output["energy"][mine & (batch.energy_weight != 0)]
        n = torch.tensor([c.num_atoms for c in own], dtype=model.dtype)
        r = (pred.detach() - ref) / n
        huber = torch.where(r.abs() <= 0.01, 0.5 * r * r, 0.01 * (r.abs() - 0.005))
        torch.testing.assert_close(terms.sums["energy"].detach(), (2.0 * huber).sum())
    assert counts == {"pbe": {"energy": 2, "forces": 2}, "hse": {"energy": 2, "forces": 3}}


@pytest.mark.parametrize("count", [None, 6])
def test_streamed_bridging_files_give_the_structures_read_into_memory(tmp_path, count):
    from mmh_data import ConfigurationSource

    files = [str(_bridging_file(tmp_path / "a.xyz")), str(_bridging_file(tmp_path / "b.xyz"))]
    bridging = {"files": files, "labels": _labels(), "weight": 2.0}
    if count is not None:
        bridging["count"] = count
    setups = {}
    for streaming in ("on", "off"):
        heads = {
            "pbe": {"dataset": "bulk", "max_train": 6},
            "hse": {"dataset": "bulk", "max_train": 4},
        }
        cfg = pretrain_config(
            tmp_path, heads=heads, bridging=bridging, **{"training.streaming": streaming}
        )
        setups[streaming] = prepare_pretrain(load_config(write_config(tmp_path / "c.yaml", cfg)))
    lazy, memory = setups["on"], setups["off"]
    assert lazy.summary["bridging"] == memory.summary["bridging"]
    for head in ("pbe", "hse"):
        assert isinstance(lazy.splits[head].train, ConfigurationSource)
        assert isinstance(memory.splits[head].train, list)
        a, b = list(lazy.splits[head].train), memory.splits[head].train
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert (x.source_file, x.source_index, x.head) == (
                y.source_file,
                y.source_index,
                y.head,
            )
            assert x.energy == y.energy and x.weight == y.weight
            assert (x.forces is None) == (y.forces is None)
            if x.forces is not None:
                assert (x.forces == y.forces).all()


def test_count_and_fraction_draw_whole_structures(tmp_path):
    dbs = _bridging_file(tmp_path / "dbs.xyz")
    base = {"files": [str(dbs)], "labels": _labels()}
    config = _pretrain(tmp_path, {**base, "count": 3})
    first = prepare_pretrain(config).summary["bridging"]
    assert first["included"] == 3 and first["available"] == 5
    assert prepare_pretrain(config).summary["bridging"] == first  # seeded
    config = _pretrain(tmp_path, {**base, "fraction": 0.4})
    assert prepare_pretrain(config).summary["bridging"]["included"] == 2


def test_finetune_sends_the_base_heads_share_to_its_replay_stream(tmp_path):
    dbs = _bridging_file(tmp_path / "dbs.xyz")
    save_model(tiny_model(), tmp_path / "base.safetensors")
    cfg = pretrain_config(
        tmp_path,
        heads={"mol2": {"dataset": "bulk", "max_train": 5}},
        finetune={
            "model": str(tmp_path / "base.safetensors"),
            "replay": {"dataset": "bulk", "count": 6, "batch_share": 0.25},
        },
        bridging={
            "files": [str(dbs)],
            "labels": {"bulk": {"level": "gfn1"}, "mol2": {"level": "gfn2"}},
        },
    )
    cfg.pop("model")
    setup = prepare_finetune(load_config(write_config(tmp_path / "ft.yaml", cfg)))
    sizes = {s.name: s.size for s, _ in setup.streams}
    # gfn1: frames 0, 1; gfn2 (energy or forces): frames 0, 2, 4
    assert sizes == {"mol2": 5 + 3, "bulk (replay)": 6 + 2}
    replay = dict((s.name, c) for s, c in setup.streams)["bulk (replay)"]
    assert [c.source_index for c in replay if c.source_file == str(dbs)] == [0, 1]
    assert all(c.head == "bulk" for c in replay)
    # the E0s of the new head are estimated with its bridging structures included
    assert setup.summary["train_sizes"]["mol2"] == 8


@pytest.mark.parametrize(
    ("bridging", "message"),
    [
        ({"files": ["DBS"], "labels": {"r2scan": {"level": "gfn1"}}}, "bridging.labels.r2scan"),
        ({"files": ["DBS"], "lables": {}}, "unknown key 'bridging.lables'"),
        ({"files": ["DBS"]}, "missing required key 'bridging.labels'"),
        ({"files": ["DBS"], "labels": {"pbe": {}}}, "bridging.labels.pbe: give 'level'"),
        ({"files": ["DBS"], "labels": {"pbe": {"level": "gfn1", "energi": "x"}}}, "energi"),
        ({"files": ["missing.xyz"], "labels": {"pbe": {"level": "gfn1"}}}, "bridging.files"),
        ({"dataset": "mol", "labels": {"pbe": {"level": "gfn1"}}}, "bridging.dataset"),
        ({"labels": {"pbe": {"level": "gfn1"}}}, "bridging: give exactly one of 'dataset'"),
        ({"files": ["DBS"], "labels": {"pbe": {"level": "gfn1"}}, "count": 9}, "bridging.count"),
        ({"files": ["DBS"], "labels": {"pbe": {"level": "b3lyp"}}}, "bridging.labels.pbe: none"),
        ({"files": ["DBS"], "labels": {"pbe": {"energy": "energy"}}}, "bridging.labels:"),
        ({"files": ["DBS"], "labels": {"pbe": {"level": "gfn1"}}, "fraction": 2}, "fraction"),
    ],
)
def test_configuration_errors_name_the_key(tmp_path, bridging, message):
    dbs = str(_bridging_file(tmp_path / "dbs.xyz"))
    if "files" in bridging:
        bridging["files"] = [dbs if f == "DBS" else str(tmp_path / f) for f in bridging["files"]]
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        prepare_pretrain(_pretrain(tmp_path, bridging))


def test_naive_fine_tuning_has_no_base_head_to_bridge_to(tmp_path):
    dbs = _bridging_file(tmp_path / "dbs.xyz")
    save_model(tiny_model(), tmp_path / "base.safetensors")
    cfg = pretrain_config(
        tmp_path,
        heads={"mol2": {"dataset": "bulk", "max_train": 5}},
        finetune={"model": str(tmp_path / "base.safetensors"), "mode": "naive"},
        bridging={"files": [str(dbs)], "labels": {"bulk": {"level": "gfn1"}}},
    )
    cfg.pop("model")
    with pytest.raises(ConfigError, match=r"bridging\.labels\.bulk: unknown head 'bulk'"):
        prepare_finetune(load_config(write_config(tmp_path / "ft.yaml", cfg)))


def test_a_bridging_set_is_not_a_head_dataset(tmp_path):
    if "bridge" not in bundled.bridging_names():
        pytest.skip("the bridge dataset is not generated in this checkout")
    config = _pretrain(tmp_path, None, pbe={"dataset": "bridge"})
    with pytest.raises(ConfigError, match=r"heads\.pbe\.dataset: 'bridge' is a domain-bridging"):
        prepare_pretrain(config)


def test_bundled_bridge_set(tmp_path):
    if "bridge" not in bundled.bridging_names():
        pytest.skip("the bridge dataset is not generated in this checkout")
    labels = {"pbe": {"level": "gfn1"}, "hse": {"level": "gfn2"}}
    config = _pretrain(tmp_path, {"dataset": "bridge", "labels": labels, "count": 12})
    summary = prepare_pretrain(config).summary["bridging"]
    assert summary["included"] == 12
    assert summary["per_head"] == {"pbe": 12, "hse": 12}  # both levels on every frame
    bad = {"dataset": "bridge", "labels": {"pbe": {"level": "pbe"}}}
    with pytest.raises(ConfigError, match=r"bridging\.labels\.pbe\.level: .* levels are"):
        prepare_pretrain(_pretrain(tmp_path, bad))
