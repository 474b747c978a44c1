"""Errors that mean something: skill against trivial baselines, and relative energies.

An MAE alone does not say whether a model learnt anything. Beside every MAE, mmh reports
its *skill* against the trivial model of the same quantity:

- forces: predicting zero force (the MAE of the zero model is the mean absolute force);
- energy: a per-element linear model ``E = Σ_Z n_Z e_Z`` fitted by least squares on the
  training structures (what per-element E0s alone give).

``skill = 1 − MAE / MAE_baseline``: 1 is perfect, 0 no better than the baseline, negative
worse. *Relative* energies remove what a per-element offset can absorb: per-atom energies
centred within each group of structures (a molecule's conformers, a crystal family),
``(e_i − ⟨e⟩_g)`` for prediction and reference, and their MAE in meV/atom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._configuration import Configuration
from ._e0s import average_e0s
from ._metrics import ErrorAccumulator

__all__ = ["baseline_metrics", "centred_energy_mae", "linear_energies", "skill_scores"]


def linear_energies(configs: Sequence[Configuration], e0s: Mapping[int, float]) -> np.ndarray:
    """``[C]`` energies (eV) of the per-element linear model ``Σ_Z n_Z e_Z``."""
    return np.array([sum(e0s.get(int(z), 0.0) for z in c.atomic_numbers) for c in configs])


def centred_energy_mae(
    predicted: np.ndarray, reference: np.ndarray, num_atoms: np.ndarray, groups: Sequence[str]
) -> float:
    """MAE (meV/atom) of per-atom energies centred within each group.

    Args:
        predicted: ``[C]`` predicted total energies (eV).
        reference: ``[C]`` reference total energies (eV).
        num_atoms: ``[C]`` atom counts.
        groups: ``C`` group names (a molecule, a crystal family); groups of one structure
            contribute zero error and are counted.
    """
    e_p = np.asarray(predicted, dtype=np.float64) / np.asarray(num_atoms)
    e_r = np.asarray(reference, dtype=np.float64) / np.asarray(num_atoms)
    groups = np.asarray(groups).astype(str)
    err = np.zeros_like(e_p)
    for g in np.unique(groups):
        m = groups == g
        err[m] = (e_p[m] - e_p[m].mean()) - (e_r[m] - e_r[m].mean())
    return float(1000 * np.abs(err).mean()) if len(err) else float("nan")


def baseline_metrics(
    configs: Sequence[Configuration],
    train: Sequence[Configuration],
    groups: Sequence[str] | None = None,
) -> dict[str, float]:
    """The metrics of the trivial models on ``configs``: ``forces_mae`` of zero force,
    ``energy_mae`` of the per-element linear model fitted on ``train`` and, with
    ``groups``, its ``energy_centred_mae``."""
    e0s = average_e0s(train)
    linear = linear_energies(configs, e0s)
    acc = ErrorAccumulator()
    for c, e in zip(configs, linear, strict=True):
        acc.add_structure(
            c.num_atoms,
            energy=None if c.energy is None else (e, c.energy),
            forces=None if c.forces is None else (0.0, c.forces),
        )
    out = {k: v for k, v in acc.metrics().items() if k in ("energy_mae", "forces_mae")}
    if groups is not None:
        labelled = [k for k, c in enumerate(configs) if c.energy is not None]
        out["energy_centred_mae"] = centred_energy_mae(
            linear[labelled],
            np.array([configs[k].energy for k in labelled]),
            np.array([configs[k].num_atoms for k in labelled]),
            [groups[k] for k in labelled],
        )
    return out


def skill_scores(metrics: Mapping[str, float], baselines: Mapping[str, float]) -> dict[str, float]:
    """``<name>_skill = 1 − metrics[<name>_mae] / baselines[<name>_mae]`` for ``forces``,
    ``energy`` and ``energy_centred`` where both are present.

    Example:
        >>> skill_scores({"forces_mae": 30.0}, {"forces_mae": 120.0})
        {'forces_skill': 0.75}
    """
    out = {}
    for name in ("forces", "energy", "energy_centred"):
        value, base = metrics.get(f"{name}_mae"), baselines.get(f"{name}_mae")
        if value is not None and base:
            out[f"{name}_skill"] = 1.0 - float(value) / float(base)
    return out
