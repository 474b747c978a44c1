"""OC20: adsorption energies of small molecules on metal surfaces (paper §X.B).

OC20 states adsorption energies against gas-phase references of the elements:

    E_ads = E(adsorbate + slab) − E(slab) − Σ_e n_e μ_e,

with n_e the adsorbate's element counts (the complex's composition minus the slab's) and
μ_e the reference energy of element e: either a combination of gas-phase molecules
computed with the benchmarked calculator (OC20's usual choice is μ_H = ½E(H2),
μ_O = E(H2O) − E(H2), μ_C = E(CO) − E(H2O) + E(H2), μ_N = ½E(N2)) or a fixed number in eV
for a model that shares the reference's absolute energy scale.

Data layout (``root``):

- ``structures.extxyz``: per system two frames with ``info`` ``system=<id>`` and ``role``
  ``complex`` or ``slab``; the gas-phase molecules as frames with ``role=gas`` and
  ``system=<molecule name>`` (e.g. ``H2``, ``H2O``, ``CO``, ``N2``).
- ``reference.csv``: columns ``system`` and ``adsorption_energy_<unit>``.
- ``gas_references.json``: ``{element: {molecule: coefficient, ...} | energy_ev}``, e.g.
  ``{"H": {"H2": 0.5}, "O": {"H2O": 1, "H2": -1}}``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from ase.calculators.calculator import BaseCalculator

from .._result import BenchmarkResult
from ._io import (
    REFERENCE,
    BenchmarkDataError,
    energy_column,
    frame,
    load_structures,
    read_csv,
    read_json,
    require_file,
)
from ._reactions import EnergyDifference, Term, composition, score_differences

__all__ = ["GAS_REFERENCES", "load_oc20", "oc20"]

_KEYS = ("system", "role")

#: File of the element references.
GAS_REFERENCES = "gas_references.json"


def _element_references(
    spec: Mapping[str, object], table: Mapping, path: Path, structures: Path
) -> dict[str, tuple[dict[str, float], float]]:
    """``{element: ({molecule: coefficient}, fixed_ev)}`` with the stoichiometry checked."""
    out = {}
    for element, entry in spec.items():
        if isinstance(entry, (int, float)) and not isinstance(entry, bool):
            out[element] = ({}, float(entry))
            continue
        if not isinstance(entry, Mapping) or not entry:
            raise BenchmarkDataError(
                f"oc20: {path}: the reference of {element!r} must be a number (eV) or "
                "{molecule: coefficient}"
            )
        balance: Counter = Counter()
        for molecule, coefficient in entry.items():
            atoms = frame(table, (molecule, "gas"), _KEYS, structures, "oc20")
            for symbol, count in composition(atoms).items():
                balance[symbol] += float(coefficient) * count
        balance = Counter({k: v for k, v in balance.items() if abs(v) > 1e-9})
        if dict(balance) != {element: 1}:
            raise BenchmarkDataError(
                f"oc20: {path}: the reference of {element!r} ({dict(entry)}) adds up to "
                f"{dict(balance)}, not one {element} atom"
            )
        out[element] = ({m: float(c) for m, c in entry.items()}, 0.0)
    return out


def load_oc20(root: str | Path) -> list[EnergyDifference]:
    """Read the OC20 data directory (layout in the module docstring)."""
    table, path = load_structures(root, "oc20", _KEYS)
    ref_path = require_file(root, REFERENCE, "oc20")
    gas_path = require_file(root, GAS_REFERENCES, "oc20")
    spec = read_json(gas_path, "oc20")
    if not isinstance(spec, Mapping):
        raise BenchmarkDataError(f"oc20: {gas_path} must hold a JSON object")
    references = _element_references(spec, table, gas_path, path)
    rows = read_csv(ref_path, ["system"], "oc20")
    values = energy_column(rows, "adsorption_energy", ref_path, "oc20")
    out = []
    for row, value in zip(rows, values, strict=True):
        system = row["system"]
        complex_ = frame(table, (system, "complex"), _KEYS, path, "oc20")
        slab = frame(table, (system, "slab"), _KEYS, path, "oc20")
        adsorbate = composition(complex_)
        adsorbate.subtract(composition(slab))
        if any(n < 0 for n in adsorbate.values()) or not +adsorbate:
            raise BenchmarkDataError(
                f"oc20: {path}: the complex of {system!r} ({complex_.get_chemical_formula()}) "
                f"is not its slab ({slab.get_chemical_formula()}) plus an adsorbate"
            )
        adsorbate = +adsorbate
        missing = sorted(set(adsorbate) - set(references))
        if missing:
            raise BenchmarkDataError(
                f"oc20: {gas_path} has no reference for {missing} (adsorbate of {system!r})"
            )
        gas: Counter = Counter()
        offset = 0.0
        for element, count in adsorbate.items():
            molecules, fixed = references[element]
            offset -= count * fixed
            for molecule, coefficient in molecules.items():
                gas[molecule] -= count * coefficient
        terms = [
            Term(1.0, f"{system}/complex", complex_),
            Term(-1.0, f"{system}/slab", slab),
            *(
                Term(c, f"gas/{m}", table[(m, "gas")])
                for m, c in sorted(gas.items())
                if abs(c) > 1e-12
            ),
        ]
        out.append(
            EnergyDifference(
                name=system,
                terms=tuple(terms),
                reference_ev=value,
                offset_ev=offset,
                meta={
                    "adsorbate": "".join(f"{e}{n if n > 1 else ''}" for e, n in adsorbate.items())
                },
            )
        )
    return out


def oc20(
    calculator: BaseCalculator, root: str | Path, *, on_error: str = "raise"
) -> BenchmarkResult:
    """OC20 adsorption energies against the references in ``root``.

    Returns:
        ``BenchmarkResult("oc20", "surfaces")`` with ``mae_ev`` (scored), ``rmse_ev``,
        ``max_abs_error_ev``, ``mean_signed_error_ev``, ``mae_kcal_mol`` and ``pearson_r``
        (the paper's Table VII).
    """
    differences = load_oc20(root)
    result, _predicted = score_differences(
        "oc20",
        "surfaces",
        calculator,
        differences,
        unit="ev",
        also_in=("kcal_mol",),
        on_error=on_error,
        data={
            "quantity": "adsorption energy",
            "adsorbate": {d.name: d.meta["adsorbate"] for d in differences},
        },
    )
    ref = np.array(result.data["reference"])
    pred = np.array(result.data["predicted"])
    pearson = (
        float(np.corrcoef(ref, pred)[0, 1])
        if len(ref) > 1 and ref.std() > 0 and pred.std() > 0
        else math.nan
    )
    result.metrics["pearson_r"] = pearson
    result.units["pearson_r"] = "dimensionless"
    return result
