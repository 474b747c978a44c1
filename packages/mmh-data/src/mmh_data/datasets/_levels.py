"""How different are the two levels? GFN2 − GFN1 on the ``mol`` geometries.

The GFN1 energy of every ``mol`` frame is computed, the difference to the stored GFN2
energy is fitted by per-element reference energies (least squares, one E0 per element, as
when a new head gets its own E0s), and the spread of what remains is reported. Any residual
is a genuine difference of the potential-energy surfaces, not of atomic references.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ._label import limit_threads


def energies(frames_numbers, frames_positions, method: str) -> np.ndarray:
    """Energies (eV) of molecules (lists of numbers and positions) at ``method``.

    A geometry whose SCF does not converge at ``method`` gets ``nan``.
    """
    from ase import Atoms
    from ase.calculators.calculator import CalculationFailed

    from ._label import make_calculator

    limit_threads()
    calc = make_calculator(method)
    out = []
    for z, r in zip(frames_numbers, frames_positions, strict=True):
        atoms = Atoms(numbers=z, positions=r)
        atoms.calc = calc
        try:
            out.append(atoms.get_potential_energy())
        except CalculationFailed:
            out.append(np.nan)
    return np.array(out)


def aligned_difference(delta: np.ndarray, numbers: list[np.ndarray]) -> dict:
    """Residual of ``delta`` after a per-element least-squares E0 fit.

    Args:
        delta: Energy differences (eV), one per frame.
        numbers: Atomic numbers of each frame.

    Returns:
        ``std_ev_per_atom`` (std of residual / atom count), ``std_ev_per_structure``,
        ``max_abs_ev``, the fitted ``e0`` per element and the per-frame ``residual``.
    """
    elements = sorted({int(z) for zs in numbers for z in zs})
    counts = np.array([[np.sum(zs == z) for z in elements] for zs in numbers], dtype=float)
    coef, *_ = np.linalg.lstsq(counts, delta, rcond=None)
    residual = delta - counts @ coef
    natoms = counts.sum(axis=1)
    return {
        "std_ev_per_atom": float(np.std(residual / natoms)),
        "std_ev_per_structure": float(np.std(residual)),
        "max_abs_ev": float(np.abs(residual).max()),
        "e0": {str(z): float(c) for z, c in zip(elements, coef, strict=True)},
        "residual": residual,
        "natoms": natoms,
    }


def compute_and_store(workers: int = 2, data_dir: Path | None = None) -> dict:
    """Compute GFN2 − GFN1 on all ``mol`` frames and store the figures in its metadata."""
    from . import _DATA, load_arrays, metadata

    data_dir = Path(data_dir) if data_dir is not None else _DATA
    numbers, positions, e_gfn2 = [], [], []
    for split in metadata("mol")["splits"]:
        arr = load_arrays("mol", split)
        off = arr["offsets"]
        for i in range(len(arr["energy"])):
            numbers.append(arr["numbers"][off[i] : off[i + 1]].astype(int))
            positions.append(arr["positions"][off[i] : off[i + 1]])
        e_gfn2.append(arr["energy"])
    e_gfn2 = np.concatenate(e_gfn2)
    chunks = np.array_split(np.arange(len(numbers)), max(1, 4 * workers))
    limit_threads()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(energies, [numbers[i] for i in c], [positions[i] for i in c], "GFN1-xTB")
            for c in chunks
        ]
        e_gfn1 = np.concatenate([f.result() for f in futures])
    ok = np.isfinite(e_gfn1)
    kept = [z for z, good in zip(numbers, ok, strict=True) if good]
    result = aligned_difference((e_gfn2 - e_gfn1)[ok], kept)
    residual, natoms = result.pop("residual"), result.pop("natoms")
    result["frames"] = int(ok.sum())
    result["gfn1_scf_failures"] = int((~ok).sum())
    meta_path = data_dir / "mol" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta.setdefault("analysis", {})["gfn2_minus_gfn1"] = result
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    result["residual_per_atom"] = residual / natoms
    return result
