"""Size extensivity and additivity of far-apart fragments (paper §XII.A).

A local potential gives two fragments 50–100 Å apart exactly the energies and forces they
have alone: ``Δ = E(A+B) - E(A) - E(B) = 0`` and ``ΔF = 0``. Both tests put every fragment
in one tall periodic cell, so that the isolated and combined structures differ only by the
presence of the other fragment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import fcc111
from ase.calculators.calculator import CalculationFailed

from ._elements import calculator_elements, describe_calculator, normalise_elements
from ._result import BenchmarkResult

__all__ = ["fcc111_slab", "h_additivity", "slab_extensivity"]


def _require(calc: Any, elements: Sequence[str], benchmark: str) -> None:
    have = calculator_elements(calc)
    if have is None:
        return
    missing = sorted(set(normalise_elements(elements)) - set(have))
    if missing:
        raise ValueError(
            f"{benchmark}: the calculator has no element(s) {missing} (it has {have}); "
            "choose other elements for this test"
        )


def fcc111_slab(metal: str, size: tuple[int, int] = (4, 4), layers: int = 8) -> Atoms:
    """An fcc(111) slab at the element's reference lattice constant, lowest atom at z = 0.

    The in-plane cell is periodic; the third cell vector is the slab thickness and is meant
    to be replaced by a taller one.

    Args:
        metal: An element with an fcc reference state in ASE (Al, Ni, Cu, Pd, Ag, Pt, Au...).
        size: In-plane repetitions.
        layers: Number of (111) layers.
    """
    slab = fcc111(metal, size=(size[0], size[1], layers), orthogonal=False, periodic=True)
    slab.positions[:, 2] -= slab.positions[:, 2].min()
    return slab


def _energy_forces(
    calc: Any, atoms: Atoms, what: str, forces: bool = True
) -> tuple[float, np.ndarray | None]:
    """Single point; a failed calculation is re-raised naming the structure."""
    atoms = atoms.copy()
    atoms.calc = calc
    try:
        energy = float(atoms.get_potential_energy())
        f = np.array(atoms.get_forces(), dtype=float) if forces else None
    except CalculationFailed as err:
        raise CalculationFailed(f"{what} ({len(atoms)} atoms): {err}") from err
    return energy, f


def _energy(calc: Any, atoms: Atoms, what: str) -> float:
    return _energy_forces(calc, atoms, what, forces=False)[0]


def _in_cell(atoms: Atoms, cell: np.ndarray) -> Atoms:
    atoms = atoms.copy()
    atoms.set_cell(cell, scale_atoms=False)
    atoms.pbc = True
    return atoms


def _pair_delta(
    calc: Any, lower: str, upper: str, size: tuple[int, int], layers: int, gap: float
) -> dict:
    bottom = fcc111_slab(lower, size, layers)
    top = fcc111_slab(upper, size, layers)
    t_bottom = bottom.positions[:, 2].max()
    t_top = top.positions[:, 2].max()
    top.positions[:, 2] += t_bottom + gap
    cell = np.array(bottom.cell[:], dtype=float)
    cell[2] = [0.0, 0.0, t_bottom + t_top + 2.0 * gap]
    bottom, top = _in_cell(bottom, cell), _in_cell(top, cell)
    stack = f"slab_extensivity {lower}|{upper}"
    e1 = _energy(calc, bottom, f"{stack}: lower {lower} slab alone")
    e2 = _energy(calc, top, f"{stack}: upper {upper} slab alone")
    e12 = _energy(calc, bottom + top, f"{stack}: both slabs")
    return {
        "metals": [lower, upper],
        "n_atoms": [len(bottom), len(top)],
        "e1_ev": e1,
        "e2_ev": e2,
        "e12_ev": e12,
        "delta_mev": (e12 - (e1 + e2)) * 1000.0,
    }


def slab_extensivity(
    calc: Any,
    metals: tuple[str, str] = ("Al", "Ni"),
    *,
    size: tuple[int, int] = (4, 4),
    layers: int = 8,
    gap: float = 100.0,
    same_metal: bool = True,
) -> BenchmarkResult:
    """Slab test of size extensivity (paper §XII.A, Table XII).

    Two fcc(111) slabs (default Al and Ni, 8 layers, 4×4) are stacked with ``gap`` Å of
    vacuum between them in one periodic cell (and ``gap`` Å to the periodic image), and
    ``Δ = E₁₂ − (E₁ + E₂)`` is computed, each isolated slab in the same cell at the same
    place. The upper slab keeps its own lattice constant inside the lower slab's in-plane
    cell: the geometries of the isolated and combined structures are identical, which is
    all the test needs.

    With ``same_metal`` (default) each metal is also stacked on a copy of itself, which
    gives one Δ per metal (``metals`` may also name one metal twice, e.g. for a calculator
    whose SCF does not converge on the others). The metric is the worst |Δ| of all stacks.

    Args:
        calc: Any ASE calculator.
        metals: The two metals of the paper's stack.
        size: In-plane repetitions of each slab.
        layers: Layers of each slab.
        gap: Vacuum between the slabs in Å.
        same_metal: Also compute the A|A and B|B stacks.

    Returns:
        ``slab_extensivity`` with metric ``delta_mev`` (worst |Δ| in meV); ``data`` holds the
        energies and signed Δ of every stack (``stacks``), the paper's A|B Δ
        (``paper_delta_mev``) and the per-metal Δ (``per_metal_delta_mev``).
    """
    lower, upper = (str(m) for m in metals)
    _require(calc, [lower, upper], "slab_extensivity")
    stacks = [_pair_delta(calc, lower, upper, size, layers, gap)]
    per_metal = {}
    if lower == upper:
        per_metal[lower] = stacks[0]["delta_mev"]
    elif same_metal:
        for metal in (lower, upper):
            stack = _pair_delta(calc, metal, metal, size, layers, gap)
            stacks.append(stack)
            per_metal[metal] = stack["delta_mev"]
    worst = max(abs(s["delta_mev"]) for s in stacks)
    return BenchmarkResult(
        name="slab_extensivity",
        domain="physicality",
        metrics={"delta_mev": worst},
        units={"delta_mev": "meV"},
        data={
            "protocol": {"size": list(size), "layers": layers, "gap_a": gap, "surface": "fcc111"},
            "stacks": stacks,
            "paper_delta_mev": stacks[0]["delta_mev"],
            "per_metal_delta_mev": per_metal,
        },
        calculator=describe_calculator(calc),
    )


def h_additivity(
    calc: Any,
    metal: str = "Al",
    distances: Sequence[float] = (50.0, 60.0, 70.0, 80.0, 90.0, 100.0),
    *,
    size: tuple[int, int] = (4, 4),
    layers: int = 8,
) -> BenchmarkResult:
    """Additivity of forces: one H atom far above a metal slab (paper §XII.A, Table XIII).

    An fcc(111) slab (default Al, 8 layers, 4×4) sits in a periodic cell whose vacuum is
    twice the largest distance, so the H atom is at least that far from every periodic
    image too. For each distance ``d``, H is put ``d`` Å above the top layer (above the
    cell centre) and the forces are compared with those of the slab alone and of the H
    atom alone in the same cell: ``ΔF_i = F_i(slab+H) − F_i(fragment alone)`` for every
    atom, H included. The statistics run over all atoms of all distances.

    Args:
        calc: Any ASE calculator.
        metal: The slab's metal.
        distances: Heights of H above the top layer in Å.
        size: In-plane repetitions of the slab.
        layers: Layers of the slab.

    Returns:
        ``h_additivity`` with metrics ``max_abs_df_mev_per_a``, ``mean_abs_df_mev_per_a``
        and ``std_abs_df_mev_per_a`` (of the per-atom norms |ΔF_i|, meV/Å); ``data`` holds
        per-distance statistics and the energy deviation
        ``E(slab+H) − E(slab) − E(H)`` in meV.
    """
    distances = [float(d) for d in distances]
    if not distances or min(distances) <= 0:
        raise ValueError(f"h_additivity: distances must be positive, got {distances}")
    _require(calc, [metal, "H"], "h_additivity")
    slab = fcc111_slab(metal, size, layers)
    top = slab.positions[:, 2].max()
    cell = np.array(slab.cell[:], dtype=float)
    cell[2] = [0.0, 0.0, top + 2.0 * max(distances)]
    slab = _in_cell(slab, cell)
    e_slab, f_slab = _energy_forces(calc, slab, f"h_additivity: {metal} slab alone")
    centre = 0.5 * (cell[0] + cell[1])
    norms, per_distance = [], []
    for d in distances:
        hydrogen = _in_cell(Atoms("H", positions=[[centre[0], centre[1], top + d]]), cell)
        e_h, f_h = _energy_forces(calc, hydrogen, f"h_additivity: H alone at {d} Å")
        e_both, f_both = _energy_forces(calc, slab + hydrogen, f"h_additivity: H {d} Å above")
        df = f_both - np.vstack([f_slab, f_h])
        n = np.linalg.norm(df, axis=1) * 1000.0
        norms.append(n)
        per_distance.append(
            {
                "distance_a": d,
                "max_abs_df_mev_per_a": float(n.max()),
                "mean_abs_df_mev_per_a": float(n.mean()),
                "h_abs_df_mev_per_a": float(n[-1]),
                "delta_energy_mev": (e_both - e_slab - e_h) * 1000.0,
            }
        )
    everything = np.concatenate(norms)
    return BenchmarkResult(
        name="h_additivity",
        domain="physicality",
        metrics={
            "max_abs_df_mev_per_a": float(everything.max()),
            "mean_abs_df_mev_per_a": float(everything.mean()),
            "std_abs_df_mev_per_a": float(everything.std()),
        },
        units={
            "max_abs_df_mev_per_a": "meV/Å",
            "mean_abs_df_mev_per_a": "meV/Å",
            "std_abs_df_mev_per_a": "meV/Å",
        },
        data={
            "protocol": {
                "metal": metal,
                "size": list(size),
                "layers": layers,
                "surface": "fcc111",
                "cell_height_a": float(cell[2, 2]),
            },
            "per_distance": per_distance,
        },
        calculator=describe_calculator(calc),
    )
