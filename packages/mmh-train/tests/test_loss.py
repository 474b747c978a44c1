"""The loss of Eq. 26: Huber terms, the conditional force delta and every weight."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from mmh_data import LABEL_NAMES, Configuration, GraphBuilder, collate
from mmh_train import LossWeights, conditional_huber, huber, weighted_loss_terms
from mmh_train._loss import STRUCTURE_LOSSES

HEADS = ["base", "new"]


def _configs(seed=0) -> list[Configuration]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(6):
        n = 2 + k % 3
        pos = rng.uniform(0, 3, (n, 3))
        cell = np.eye(3) * 4.0 if k % 2 == 0 else None
        out.append(
            Configuration(
                atomic_numbers=np.full(n, 1 + k % 2 * 7),
                positions=pos,
                cell=cell,
                pbc=np.array([cell is not None] * 3),
                energy=float(rng.normal()),
                forces=rng.normal(size=(n, 3)),
                stress=rng.normal(size=(3, 3)) * 0.01 if cell is not None else None,
                head=HEADS[k % 2],
            )
        )
    return out


def _batch(configs):
    return collate([GraphBuilder(3.0, heads=HEADS, dtype=torch.float64)(c) for c in configs])


def _fake_output(batch, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {
        "energy": batch.energy + torch.randn(batch.num_graphs, generator=g, dtype=batch.dtype),
        "forces": batch.forces + torch.randn(batch.forces.shape, generator=g, dtype=batch.dtype),
        "stress": batch.stress
        + 0.01 * torch.randn(batch.stress.shape, generator=g, dtype=batch.dtype),
    }


def test_huber_matches_torch():
    r = torch.linspace(-0.05, 0.05, 101, dtype=torch.float64)
    expected = torch.nn.functional.huber_loss(r, torch.zeros_like(r), reduction="none", delta=0.01)
    torch.testing.assert_close(huber(r, 0.01), expected, rtol=0, atol=1e-18)


def test_conditional_delta_steps_down_with_reference_force():
    # residual of 1 eV/Å, far in the linear regime, so the loss is delta * (1 - delta/2)
    magnitudes = torch.tensor([50.0, 99.9, 100.0, 150.0, 250.0, 300.0, 500.0], dtype=torch.float64)
    reference = torch.zeros(len(magnitudes), 3, dtype=torch.float64)
    reference[:, 0] = magnitudes
    residual = torch.ones_like(reference)
    loss = conditional_huber(residual, reference, 0.01)[:, 0]
    factors = torch.tensor([1.0, 1.0, 0.7, 0.7, 0.4, 0.1, 0.1], dtype=torch.float64)
    delta = 0.01 * factors
    torch.testing.assert_close(loss, delta * (1 - delta / 2), rtol=1e-14, atol=0)


def test_terms_follow_eq_26_by_hand():
    configs = _configs()
    batch = _batch(configs)
    out = _fake_output(batch)
    w = LossWeights(conditional_forces=False)
    terms = weighted_loss_terms(batch, out, w)
    n = batch.num_atoms.double()
    e = huber((out["energy"] - batch.energy) / n, 0.01).sum()
    f = 0.0
    for g in range(batch.num_graphs):
        sl = slice(int(batch.ptr[g]), int(batch.ptr[g + 1]))
        f += huber(out["forces"][sl] - batch.forces[sl], 0.01).mean()
    has_s = batch.stress_weight != 0
    s = huber(out["stress"] - batch.stress, 0.01)[has_s].mean(dim=(1, 2)).sum()
    torch.testing.assert_close(terms.sums["energy"], e)
    torch.testing.assert_close(terms.sums["forces"], f)
    torch.testing.assert_close(terms.sums["stress"], s)
    assert float(terms.counts["stress"]) == 3  # three periodic structures carry stress
    expected = e / 6 + 10 * f / 6 + 10 * s / 3
    torch.testing.assert_close(terms.total(w), expected)


def test_config_weight_zero_removes_a_structure_exactly():
    configs = _configs()
    weights = LossWeights()
    zeroed = [dataclasses.replace(c, weight=0.0) if k == 2 else c for k, c in enumerate(configs)]
    # the same structure with absurd labels: with weight 0 nothing may change
    absurd = [
        dataclasses.replace(c, energy=1e4, forces=c.forces + 1e3, stress=c.stress + 5)
        if k == 2
        else c
        for k, c in enumerate(zeroed)
    ]
    a, b = _batch(zeroed), _batch(absurd)
    pred = _fake_output(a)
    out_b = dict(pred)
    out_b["energy"] = pred["energy"].clone()
    la = weighted_loss_terms(a, pred, weights)
    lb = weighted_loss_terms(b, out_b, weights)
    assert float(la.total(weights)) == float(lb.total(weights))
    # and it equals the sum over the other structures with the same normalisation
    full = weighted_loss_terms(_batch(configs), pred, weights)
    sl = slice(int(a.ptr[2]), int(a.ptr[3]))
    alone = weighted_loss_terms(
        _batch([configs[2]]),
        {
            "energy": pred["energy"][2:3],
            "forces": pred["forces"][sl],
            "stress": pred["stress"][2:3],
        },
        weights,
    )
    for p in ("energy", "forces", "stress"):
        torch.testing.assert_close(la.sums[p], full.sums[p] - alone.sums[p], rtol=1e-13, atol=1e-16)


def test_replay_weight_scales_the_replay_contribution():
    configs = _configs()
    weights = LossWeights()

    def loss(w_replay):
        # the "base" structures play the replay buffer
        cs = [dataclasses.replace(c, weight=w_replay) if c.head == "base" else c for c in configs]
        batch = _batch(cs)
        return float(weighted_loss_terms(batch, _fake_output(batch), weights).total(weights))

    l0, l1, l2, l5 = loss(0.0), loss(1.0), loss(2.0), loss(5.0)
    replay = l1 - l0
    assert replay > 0
    assert l2 - l0 == pytest.approx(2 * replay, rel=1e-12)
    assert l5 - l0 == pytest.approx(5 * replay, rel=1e-12)


def test_head_weights_scale_their_head():
    configs = _configs()
    batch = _batch(configs)
    out = _fake_output(batch)
    w = LossWeights()
    base = weighted_loss_terms(batch, out, w, torch.tensor([1.0, 0.0], dtype=torch.float64))
    new = weighted_loss_terms(batch, out, w, torch.tensor([0.0, 1.0], dtype=torch.float64))
    both = weighted_loss_terms(batch, out, w, torch.tensor([3.0, 0.5], dtype=torch.float64))
    torch.testing.assert_close(
        both.total(w), 3 * base.total(w) + 0.5 * new.total(w), rtol=1e-13, atol=0
    )


def test_missing_property_contributes_nothing():
    configs = [dataclasses.replace(c, stress=None, stress_weight=0.0) for c in _configs()]
    batch = _batch(configs)
    out = _fake_output(batch)
    terms = weighted_loss_terms(batch, out, LossWeights())
    assert float(terms.sums["stress"]) == 0.0 and float(terms.counts["stress"]) == 0
    # leaving stress out of the output is allowed when nobody has a stress label
    del out["stress"]
    terms2 = weighted_loss_terms(batch, out, LossWeights())
    assert float(terms2.total(LossWeights())) == float(terms.total(LossWeights()))
    # but not when somebody does
    labelled = _batch(_configs())
    with pytest.raises(ValueError, match="stress"):
        weighted_loss_terms(
            labelled,
            {k: v for k, v in _fake_output(labelled).items() if k != "stress"},
            LossWeights(),
        )


def test_property_weight_zero_removes_the_label():
    configs = _configs()
    zeroed = [
        dataclasses.replace(c, forces_weight=0.0) if k == 1 else c for k, c in enumerate(configs)
    ]
    batch = _batch(zeroed)
    out = _fake_output(batch)
    terms = weighted_loss_terms(batch, out, LossWeights())
    assert float(terms.counts["forces"]) == 5


def test_every_label_of_the_field_table_has_a_loss_and_a_weight():
    assert tuple(STRUCTURE_LOSSES) == LABEL_NAMES
    weights = {f.name for f in dataclasses.fields(LossWeights)}
    for name in LABEL_NAMES:
        assert name in weights and f"{name}_delta" in weights
