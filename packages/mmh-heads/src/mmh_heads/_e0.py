"""Per-head E0s: fixed, least squares on compositions, and re-estimation from a model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmh_data import Configuration, GraphBuilder, average_e0s, collate, fit_e0s, is_isolated_atom

from ._model import MultiHeadMACE


def average_head_e0s(
    model: MultiHeadMACE, configs: Sequence[Configuration], head: str | int
) -> dict[int, float]:
    """Set ``head``'s E0s by least squares on the compositions of ``configs``.

    This is mace's ``"average"``: ``min_E0 Σ_c (E_c − Σ_z n_cz E0_z)²`` over the structures
    with an energy (isolated atoms left out).

    Returns:
        The new ``{Z: E0}`` (also written into the model).
    """
    e0s = average_e0s(configs, model.elements)
    model.set_e0s(head, e0s)
    return e0s


def predict_energies(
    model: MultiHeadMACE,
    configs: Sequence[Configuration],
    head: str | int,
    *,
    batch_size: int = 16,
) -> np.ndarray:
    """Total energies of ``configs`` predicted with ``head`` (no forces), in eV."""
    k = model.head_index(head)
    builder = GraphBuilder(model.backbone.config.r_max, heads=None, dtype=model.dtype)
    device = model.e0.device
    out = []
    for start in range(0, len(configs), batch_size):
        graphs = [builder(c) for c in configs[start : start + batch_size]]
        batch = collate(graphs).to(device)
        batch.head = torch.full_like(batch.head, k)  # every structure through head k
        with torch.no_grad():
            result = model(batch, compute_forces=False, compute_stress=False)
        out.append(result["energy"].double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def estimate_e0s(
    model: MultiHeadMACE,
    configs: Sequence[Configuration],
    head: str | int,
    *,
    source: str | int | None = None,
    apply: bool = True,
    batch_size: int = 16,
) -> dict[int, float]:
    """Re-estimate E0s from a model's residuals (paper appendix XV A, Eqs. 21–25).

    The model (head ``source``, default ``head``, with its own E0s) predicts the energy of
    every configuration; the residuals ``b_k = E_ref,k − E_pred,k`` are fitted by least
    squares on the compositions, ``min_c ||A c − b||``, and
    ``E0_new[z] = E0_source[z] + c_z``. Elements absent from ``configs`` keep
    ``c_z = 0``.

    Args:
        model: The model.
        configs: Labelled structures of the head (isolated atoms and unlabelled frames
            are left out).
        head: The head whose E0s are set.
        source: The head that predicts (default ``head``).
        apply: Write the new E0s into ``head``.
        batch_size: Structures per forward pass.

    Returns:
        ``{Z: E0_new}`` for the whole element table.
    """
    source = head if source is None else source
    rows = [c for c in configs if c.energy is not None and not is_isolated_atom(c)]
    if not rows:
        raise ValueError("no structures with an energy label to estimate E0s from")
    predicted = predict_energies(model, rows, source, batch_size=batch_size)
    residual = np.array([c.energy for c in rows], dtype=np.float64) - predicted
    elements = list(model.elements)
    present = sorted({int(z) for c in rows for z in c.atomic_numbers})
    unknown = sorted(set(present) - set(elements))
    if unknown:
        raise ValueError(f"elements {unknown} are not in the model's element table {elements}")
    index = {z: k for k, z in enumerate(present)}
    A = np.zeros((len(rows), len(present)))
    for r, c in enumerate(rows):
        for z in c.atomic_numbers:
            A[r, index[int(z)]] += 1
    correction = fit_e0s(A, residual, present, context=f"head {head!r}: ")
    old = model.head_e0s(source)
    new = {z: old[z] + correction.get(z, 0.0) for z in elements}
    if apply:
        model.set_e0s(head, new)
    return new
