"""Errors of each head on the bundled test splits (energy, forces, stress)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from ase.calculators.calculator import CalculationFailed
from mmh_data import METRIC_UNITS, ErrorAccumulator

from ._elements import calculator_elements, describe_calculator, normalise_elements
from ._result import BenchmarkResult

__all__ = ["in_domain", "in_domain_key"]

#: Force components (and stress components) kept in ``data`` for parity plots, per dataset.
MAX_STORED_COMPONENTS = 6000


def in_domain_key(dataset: str) -> str:
    """Prefix of a dataset's metric keys: ``"mol-base"`` → ``"mol_base"``."""
    return dataset.replace("-", "_")


def _is_calculator(obj: Any) -> bool:
    return hasattr(obj, "get_potential_energy") or hasattr(obj, "calculate")


def _resolver(calculators: Any) -> Callable[[str], Any]:
    """A function head → calculator, created once per head."""
    if isinstance(calculators, Mapping):

        def from_mapping(head: str) -> Any:
            if head not in calculators:
                raise KeyError(
                    f"in_domain: no calculator for head {head!r}; calculators are given for "
                    f"{sorted(calculators)}"
                )
            return calculators[head]

        return from_mapping
    if _is_calculator(calculators):
        return lambda head: calculators
    if callable(calculators):
        cache: dict[str, Any] = {}

        def from_factory(head: str) -> Any:
            if head not in cache:
                cache[head] = calculators(head)
            return cache[head]

        return from_factory
    raise TypeError(
        "in_domain: calculators must be an ASE calculator, a mapping head -> calculator or a "
        f"function head -> calculator, got {type(calculators).__name__}"
    )


def _evenly(n: int, k: int | None) -> np.ndarray:
    if k is None or k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _sample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if values.size <= MAX_STORED_COMPONENTS:
        return np.arange(values.size)
    return np.sort(rng.choice(values.size, MAX_STORED_COMPONENTS, replace=False))


def _predictions(calc: Any, selected: list, name: str, has_stress: bool, failures: list):
    """``(index, frame, {"energy", "forces", "stress"})`` for each selected frame.

    An [`mmh_ase.MMHCalculator`][] evaluates many frames per model call
    ([`mmh_ase.BatchEvaluator`][], same results); any other ASE calculator is called
    frame by frame, and a frame it fails on (``CalculationFailed``) is recorded in
    ``failures`` and left out.
    """
    from mmh_ase import BatchEvaluator, MMHCalculator

    if isinstance(calc, MMHCalculator) and type(calc).calculate is MMHCalculator.calculate:
        results = BatchEvaluator(calc)([atoms for _, atoms in selected])
        for (k, atoms), result in zip(selected, results, strict=True):
            yield k, atoms, result
        return
    for k, frame in selected:
        atoms = frame.copy()
        atoms.calc = calc
        try:
            predicted = {
                "energy": float(atoms.get_potential_energy()),
                "forces": np.array(atoms.get_forces(), dtype=float),
            }
            if has_stress and "REF_stress" in frame.info and frame.pbc.all():
                predicted["stress"] = np.array(atoms.get_stress(voigt=True))
        except CalculationFailed as err:
            failures.append(f"{name}[{k}] {atoms.get_chemical_formula()}: {err}")
            continue
        yield k, frame, predicted


def _evaluate(name: str, head: str, calc: Any, split: str, max_frames: int | None, elements):
    from mmh_data import datasets

    frames = datasets.load_atoms(name, split)
    has_stress = bool(datasets.metadata(name).get("has_stress", False))
    supported = set(elements) if elements is not None else None
    e_ref, e_pred, f_ref, f_pred, s_ref, s_pred, n_atoms = [], [], [], [], [], [], []
    skipped, failures = 0, []
    errors = ErrorAccumulator()
    selected = []
    for k in _evenly(len(frames), max_frames):
        atoms = frames[int(k)]
        if supported is not None and not set(atoms.get_chemical_symbols()) <= supported:
            skipped += 1
            continue
        selected.append((int(k), atoms))
    for _k, atoms, predicted in _predictions(calc, selected, name, has_stress, failures):
        ref_s = atoms.info.get("REF_stress") if has_stress and atoms.pbc.all() else None
        n_atoms.append(len(atoms))
        e_ref.append(float(atoms.info["REF_energy"]) / len(atoms))
        e_pred.append(predicted["energy"] / len(atoms))
        f_ref.append(np.array(atoms.arrays["REF_forces"], dtype=float).ravel())
        f_pred.append(np.asarray(predicted["forces"], dtype=float).ravel())
        if ref_s is not None:
            s_ref.append(np.asarray(ref_s, dtype=float))
            s_pred.append(np.asarray(predicted["stress"], dtype=float))
        errors.add_structure(
            len(atoms),
            energy=(predicted["energy"], float(atoms.info["REF_energy"])),
            forces=(predicted["forces"], atoms.arrays["REF_forces"]),
            stress=None if ref_s is None else (predicted["stress"], ref_s),
        )
    if not e_ref:
        raise RuntimeError(
            f"in_domain: no frame of {name}/{split} could be evaluated "
            f"({skipped} with unsupported elements, {len(failures)} failed"
            + (f"; first failure: {failures[0]}" if failures else "")
            + ")"
        )
    return {
        "head": head,
        "e": (np.array(e_pred), np.array(e_ref)),
        "f": (np.concatenate(f_pred), np.concatenate(f_ref)),
        "s": (np.concatenate(s_pred), np.concatenate(s_ref)) if s_ref else None,
        "metrics": errors.metrics(),
        "n_frames": len(e_ref),
        "n_atoms": int(sum(n_atoms)),
        "skipped": skipped,
        "failures": failures,
    }


def in_domain(
    calculators: Any,
    datasets: Sequence[str] | None = None,
    heads: Mapping[str, str] | None = None,
    *,
    split: str = "test",
    max_frames: int | None = None,
    elements: Sequence[str | int] | None = None,
    seed: int = 0,
) -> BenchmarkResult:
    """Energy, force and stress errors of each head on its bundled test split.

    Every dataset of `mmh_data.datasets` is evaluated with the head that was trained
    on it: ``heads`` maps dataset → head (default: the head named like the dataset). The
    calculator of a head comes from ``calculators``:

    - one ASE calculator, used for every dataset (e.g. a reference method or a single-head
      model; the head names are then only labels),
    - a mapping head → calculator, or
    - a factory ``head -> calculator`` (called once per head), e.g.
      ``lambda head: MMHCalculator("model.safetensors", head=head)``.

    Frames with elements the calculator does not support (``calc.elements``, EMT's table or
    ``elements``) are skipped and counted; frames whose calculation fails
    (``CalculationFailed``) are counted as failures.

    Args:
        calculators: See above.
        datasets: Bundled dataset names (default: all installed ones).
        heads: Dataset → head name.
        split: Split to evaluate (``"test"``; ``mol-base`` has only ``test``).
        max_frames: Evaluate at most this many frames per dataset, evenly spaced in file
            order (all frames by default).
        elements: Elements the calculator supports, when it cannot say itself.
        seed: Seed of the subsample of force components stored for parity plots.

    Returns:
        ``in_domain`` (domain ``in_domain``, reported, not scored). For each dataset
        ``<d>`` (``-`` becomes ``_``) the metrics ``<d>_energy_mae_mev_per_atom``,
        ``<d>_energy_rmse_mev_per_atom``, ``<d>_forces_mae_mev_per_a``,
        ``<d>_forces_rmse_mev_per_a``, ``<d>_n_frames`` and, where stress is labelled,
        ``<d>_stress_mae_mev_per_a3`` and ``<d>_stress_rmse_mev_per_a3``, as
        [`mmh_data.ErrorAccumulator`][] defines them for mmh-train too: energies per atom,
        forces over Cartesian components, stress over the 9 components of the tensor.
        ``data[<dataset>]`` holds the head, counts, failures and
        the reference and predicted values for parity plots (per-atom energies of every
        frame; a random subsample of at most 6000 force components).
    """
    from mmh_data import datasets as bundled

    names = list(datasets) if datasets is not None else bundled.names()
    if not names:
        raise ValueError("in_domain: no datasets to evaluate")
    heads = dict(heads or {})
    resolve = _resolver(calculators)
    single = _is_calculator(calculators) and not isinstance(calculators, Mapping)
    metrics, units, data = {}, {}, {}
    rng = np.random.default_rng(seed)
    described = []
    for name in names:
        head = heads.get(name, name)
        calc = resolve(head)
        described.append(f"{name}: {describe_calculator(calc)}")
        supported = (
            normalise_elements(elements) if elements is not None else calculator_elements(calc)
        )
        out = _evaluate(name, head, calc, split, max_frames, supported)
        key = in_domain_key(name)
        # the shared definition of mmh_data (the one mmh-train reports): energy per atom,
        # force components, the 9 components of the stress tensor
        errors = out["metrics"]
        for prop, unit_name in (("energy", "mev_per_atom"), ("forces", "mev_per_a")):
            for kind in ("mae", "rmse"):
                metrics[f"{key}_{prop}_{kind}_{unit_name}"] = errors[f"{prop}_{kind}"]
                units[f"{key}_{prop}_{kind}_{unit_name}"] = METRIC_UNITS[prop]
        metrics[f"{key}_n_frames"] = float(out["n_frames"])
        units[f"{key}_n_frames"] = "count"
        entry = {
            "head": None if single else head,
            "split": split,
            "n_frames": out["n_frames"],
            "n_atoms": out["n_atoms"],
            "skipped_frames": out["skipped"],
            "failed_frames": len(out["failures"]),
            "failures": out["failures"][:10],
            "energy_per_atom_ref_ev": out["e"][1],
            "energy_per_atom_pred_ev": out["e"][0],
        }
        pick = _sample(out["f"][1], rng)
        entry["forces_ref_ev_per_a"] = out["f"][1][pick]
        entry["forces_pred_ev_per_a"] = out["f"][0][pick]
        if out["s"] is not None:
            for kind in ("mae", "rmse"):
                metrics[f"{key}_stress_{kind}_mev_per_a3"] = errors[f"stress_{kind}"]
                units[f"{key}_stress_{kind}_mev_per_a3"] = METRIC_UNITS["stress"]
            entry["stress_ref_ev_per_a3"] = out["s"][1]
            entry["stress_pred_ev_per_a3"] = out["s"][0]
        data[name] = entry
    return BenchmarkResult(
        name="in_domain",
        domain="in_domain",
        metrics=metrics,
        units=units,
        data={"datasets": data},
        calculator="; ".join(dict.fromkeys(described)),
    )
