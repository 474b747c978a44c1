"""The EMA copy: warm-up decay, and a state that loads into a freshly built model."""

from __future__ import annotations

import torch
from mmh_heads import MultiHeadMACE, load_model, save_model
from mmh_heads.testing import tiny_model
from mmh_train import ExponentialMovingAverage


def _model():
    return tiny_model(("a",), elements=(1, 8), channels=4, max_ell=3)


def test_warm_up_then_decay():
    model = _model()
    ema = ExponentialMovingAverage(model, 0.99)
    p0 = [p.detach().clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(model)  # decay min(0.99, 1/10) = 0.1: moves 90 % of the way
    for p, q in zip(ema.module.parameters(), p0, strict=True):
        torch.testing.assert_close(p, q + 0.9)
    ema.update(model)  # decay 2/11
    for p, q in zip(ema.module.parameters(), p0, strict=True):
        torch.testing.assert_close(p, q + 1.0 - 0.1 * 2 / 11)


def test_saved_ema_model_loads(tmp_path):
    model = _model()
    ema = ExponentialMovingAverage(
        model, 0.9, factory=lambda: MultiHeadMACE(model.config, dtype=model.dtype)
    )
    ema.update(model)
    save_model(ema.module, tmp_path / "ema.safetensors")
    loaded = load_model(tmp_path / "ema.safetensors")
    for (n, p), (m, q) in zip(
        ema.module.named_parameters(), loaded.named_parameters(), strict=True
    ):
        assert n == m and torch.equal(p, q)
