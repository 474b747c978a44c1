import dataclasses

import numpy as np
import pytest
import torch
from mmh_heads import estimate_e0s
from mmh_heads.testing import batch_of, molecule, tiny_model, triclinic


def _configs(heads=("base",) * 4):
    """A cell and three molecules, labelled with ``heads``."""
    h = list(heads)
    return [
        triclinic(0, head=h[0]),
        molecule(1, head=h[1]),
        molecule(2, head=h[2], numbers=(6, 6, 1, 1, 1, 1)),
        molecule(3, head=h[3], numbers=(8, 1)),
    ]


def test_heads_are_independent():
    model = tiny_model()
    batch = batch_of(_configs(["base", "new", "base", "new"]))
    before = model(batch)
    with torch.no_grad():
        for p in model.readouts[1].parameters():
            p.add_(torch.randn_like(p))
        model.e0[1] += 3.0
        model.scale[1] *= 2.0
        model.shift[1] += 1.0
    after = model(batch)
    base = batch.batch == 0
    base |= batch.batch == 2
    assert torch.equal(after["energy"][[0, 2]], before["energy"][[0, 2]])
    assert torch.equal(after["forces"][base], before["forces"][base])
    assert not torch.allclose(after["energy"][[1, 3]], before["energy"][[1, 3]])


def test_mixed_batch_equals_single_graphs():
    model = tiny_model()
    configs = _configs(["base", "new", "new", "base"])
    mixed = model(batch_of(configs))
    for k, c in enumerate(configs):
        single = model(batch_of([c]))
        assert torch.allclose(mixed["energy"][k], single["energy"][0], rtol=0, atol=1e-10)
        assert torch.allclose(mixed["stress"][k], single["stress"][0], rtol=0, atol=1e-12)


def test_add_head_copies_predictions_up_to_e0s():
    model = tiny_model()
    e0s = {1: -1.0, 6: -2.0, 8: -3.0}
    model.add_head("copy", init_from="base", e0s=e0s)
    assert model.heads == ["base", "new", "copy"]
    configs = _configs()
    base = model(batch_of(configs))
    copy = model(batch_of(_configs(["copy"] * 4)))
    old = model.head_e0s("base")
    for k, c in enumerate(configs):
        delta = sum(e0s[int(z)] - old[int(z)] for z in c.atomic_numbers)
        assert abs(float((copy["energy"][k] - base["energy"][k]).detach()) - delta) < 1e-9
    assert torch.equal(copy["forces"], base["forces"])
    # the copy is independent of its source
    with torch.no_grad():
        model.readouts[2].linear.add_(1.0)
    assert torch.equal(model(batch_of(configs))["energy"], base["energy"])


def test_remove_head_keeps_others():
    model = tiny_model()
    batch = batch_of(_configs(["new"] * 4))
    before = model(batch)["energy"]
    model.remove_head("base")
    assert model.heads == ["new"]
    assert torch.equal(model(batch)["energy"], before)
    with pytest.raises(ValueError, match="only head"):
        model.remove_head("new")
    with pytest.raises(KeyError, match="unknown head"):
        model.head_index("nope")


@pytest.mark.parametrize("head", ["base", "new"])
def test_extract_head_is_exact(head):
    model = tiny_model()
    batch = batch_of(_configs([head] * 4))
    full = model(batch)
    single = model.extract_head(head)
    assert single.heads == [head]
    alone = single(batch)
    for key in ("energy", "forces", "stress", "node_energy"):
        assert torch.equal(full[key], alone[key]), key


def test_estimate_e0s_recovers_offset():
    model = tiny_model()
    rng = np.random.default_rng(0)
    configs = []
    for seed in range(8):
        n = rng.integers(2, 6)
        z = rng.choice([1, 6, 8], size=n)
        configs.append(molecule(10 + seed, numbers=tuple(int(x) for x in z)))
    offset = {1: 0.37, 6: -1.25, 8: 2.5}
    batch = batch_of(configs)  # head "base"
    predicted = model(batch, compute_forces=False, compute_stress=False)["energy"]
    configs = [
        dataclasses.replace(
            c, energy=float(e) + sum(offset[int(z)] for z in c.atomic_numbers), energy_weight=1.0
        )
        for c, e in zip(configs, predicted.detach(), strict=True)
    ]
    old = model.head_e0s("base")
    new = estimate_e0s(model, configs, "new", source="base")
    for z in (1, 6, 8):
        assert abs(new[z] - old[z] - offset[z]) < 1e-6
    assert model.head_e0s("new") == new
    assert model.head_e0s("base") == old
