"""Equation of state of the elemental crystals against the Delta-test (DCDFT) references.

ASE ships the crystal structures of the Delta test (Lejaeghere et al., "Reproducibility in
density functional theory calculations of solids", Science 2016; molmod/DeltaCodesDFT)
with the all-electron WIEN2k PBE equation of state of each element as
``ase.collections.dcdft``: ``wien2k_volume`` (V0, Å³/atom), ``wien2k_B`` (B0, GPa) and
``wien2k_Bp`` (B′). The structures carry the Delta test's initial magnetic moments (Fe,
Co, Ni ferromagnetic; Cr, Mn, O antiferromagnetic), which spin-polarised calculators read
and machine-learning potentials ignore.

Protocol (the Delta test's): for each element, scale the cell isotropically (fractional
coordinates and cell shape fixed, no relaxation) to seven volumes 0.94, 0.96, …, 1.06
times the reference V0, compute the energies, fit a third-order Birch–Murnaghan equation
of state (`fit_birch_murnaghan`: a linear least-squares fit of the cubic in
V^(-2/3) that this equation of state is, as the Delta test's own fitting script does) and
compare V0, B0 and B′ with the references. The Delta gauge (`delta_value`) is the
root-mean-square energy difference between the fitted and the reference equations of
state, both with their minimum at zero energy, over volumes ±6 % around the mean of the
two V0:

    Δ = sqrt( ∫ (E_model(V) − E_ref(V))² dV / (V_f − V_i) ),
    V_i = 0.94 V̄0, V_f = 1.06 V̄0, V̄0 = (V0_model + V0_ref) / 2,

in meV/atom.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from ase.collections import dcdft as _dcdft
from ase.data import chemical_symbols
from ase.units import GPa

from ._result import BenchmarkResult
from .external._evaluate import EnergyEvaluator, describe_calculator

__all__ = [
    "DCDFT_ELEMENTS",
    "birch_murnaghan_energy",
    "dcdft_reference",
    "delta_value",
    "equation_of_state",
    "fit_birch_murnaghan",
]

#: Elements of the Delta test, in ASE's order (H to Rn, without the lanthanides).
DCDFT_ELEMENTS: tuple[str, ...] = tuple(_dcdft.names)

_GAUSS_NODES, _GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(48)


def dcdft_reference(symbol: str) -> tuple[Atoms, float, float, float]:
    """The Delta-test crystal of one element and its WIEN2k PBE equation of state.

    Args:
        symbol: Chemical symbol, one of `DCDFT_ELEMENTS`.

    Returns:
        ``(atoms, v0, b0, b1)``: the structure (with its initial magnetic moments), V0 in
        Å³/atom, B0 in GPa and B′.
    """
    if symbol not in DCDFT_ELEMENTS:
        raise KeyError(f"{symbol!r} is not in the DCDFT set ({len(DCDFT_ELEMENTS)} elements)")
    data = _dcdft.data[symbol]
    return (
        _dcdft[symbol],
        float(data["wien2k_volume"]),
        float(data["wien2k_B"]),
        float(data["wien2k_Bp"]),
    )


def birch_murnaghan_energy(
    volume: float | np.ndarray, v0: float, b0: float, b1: float, e0: float = 0.0
) -> np.ndarray:
    """Third-order Birch–Murnaghan energy.

    ``E(V) = E0 + 9 V0 B0 / 16 · [(x − 1)³ B′ + (x − 1)² (6 − 4x)]`` with
    ``x = (V0 / V)^(2/3)``.

    Args:
        volume: Volume(s), Å³ (per atom if ``v0`` is per atom).
        v0: Equilibrium volume, Å³.
        b0: Bulk modulus at V0, GPa.
        b1: Pressure derivative of the bulk modulus at V0.
        e0: Energy at V0, eV.

    Returns:
        Energy in eV.
    """
    x = (v0 / np.asarray(volume, dtype=float)) ** (2.0 / 3.0)
    b0_ev = b0 * GPa
    return e0 + 9.0 * v0 * b0_ev / 16.0 * ((x - 1.0) ** 3 * b1 + (x - 1.0) ** 2 * (6.0 - 4.0 * x))


def delta_value(eos_a: Sequence[float], eos_b: Sequence[float], *, window: float = 0.06) -> float:
    """The Delta gauge between two equations of state, in meV/atom.

    Args:
        eos_a: ``(V0 [Å³/atom], B0 [GPa], B′)`` of the first equation of state.
        eos_b: The same for the second.
        window: Half-width of the volume range relative to the mean V0 (the Delta test's
            0.06).

    Returns:
        ``sqrt(∫ (E_a − E_b)² dV / (V_f − V_i))`` over ``V_i = (1 − window) V̄0`` to
        ``V_f = (1 + window) V̄0``, both curves with zero energy at their own V0.
    """
    v0a, b0a, b1a = (float(x) for x in eos_a)
    v0b, b0b, b1b = (float(x) for x in eos_b)
    mean_v0 = 0.5 * (v0a + v0b)
    v_i, v_f = (1.0 - window) * mean_v0, (1.0 + window) * mean_v0
    volumes = 0.5 * (v_f - v_i) * _GAUSS_NODES + 0.5 * (v_f + v_i)
    diff = birch_murnaghan_energy(volumes, v0a, b0a, b1a) - birch_murnaghan_energy(
        volumes, v0b, b0b, b1b
    )
    integral = 0.5 * (v_f - v_i) * float(np.dot(_GAUSS_WEIGHTS, diff**2))
    return 1000.0 * math.sqrt(integral / (v_f - v_i))


def _symbols(elements: Iterable[str | int]) -> list[str]:
    out = []
    for e in elements:
        if isinstance(e, (int, np.integer)):
            out.append(chemical_symbols[int(e)])
        elif isinstance(e, str) and e in chemical_symbols:
            out.append(e)
        else:
            raise ValueError(f"unknown element {e!r}")
    return out


def _chosen_elements(
    calculator: BaseCalculator, elements: Iterable[str | int] | None
) -> tuple[list[str], list[str]]:
    if elements is None:
        elements = getattr(calculator, "elements", None)
        if elements is None:
            raise ValueError(
                f"equation_of_state: {type(calculator).__name__} has no 'elements' attribute; "
                "pass elements=[...] (symbols or atomic numbers)"
            )
    wanted = _symbols(elements)
    chosen = [s for s in DCDFT_ELEMENTS if s in wanted]
    if not chosen:
        raise ValueError(f"equation_of_state: none of {wanted} is in the DCDFT set")
    return chosen, [s for s in wanted if s not in DCDFT_ELEMENTS]


def _scaled(atoms: Atoms, volume_per_atom: float) -> Atoms:
    out = atoms.copy()
    factor = (volume_per_atom * len(atoms) / atoms.get_volume()) ** (1.0 / 3.0)
    out.set_cell(atoms.cell * factor, scale_atoms=True)
    return out


def fit_birch_murnaghan(
    volumes: Sequence[float], energies: Sequence[float]
) -> tuple[float, float, float, float]:
    """Least-squares third-order Birch–Murnaghan fit, as the Delta test does it.

    The third-order Birch–Murnaghan energy is a cubic polynomial in ``t = V^(-2/3)``, so the
    least-squares fit is linear (``numpy.polyfit``) and has no convergence failure;
    V0, B0 and B′ follow from the polynomial's minimum. Same functional form as
    ``ase.eos.EquationOfState(eos="birchmurnaghan")``, whose iterative fit finds the same
    optimum when it converges.

    Args:
        volumes: At least four volumes (Å³, per atom or per cell).
        energies: Energies at those volumes (eV, same normalisation).

    Returns:
        ``(v0, b0 [GPa], b1, e0)``.

    Raises:
        ValueError: If the fitted curve has no minimum at a positive volume.
    """
    v = np.asarray(volumes, dtype=float)
    if v.size < 4:
        raise ValueError("a Birch-Murnaghan fit needs at least four volumes")
    t = v ** (-2.0 / 3.0)
    poly = np.polynomial.Polynomial.fit(t, np.asarray(energies, dtype=float), 3).convert()
    d1, d2, d3 = poly.deriv(1), poly.deriv(2), poly.deriv(3)
    roots = [
        r.real
        for r in np.atleast_1d(d1.roots())
        if abs(r.imag) < 1e-12 * max(1.0, abs(r.real)) and r.real > 0 and d2(r.real) > 0
    ]
    if not roots:
        raise ValueError("the fitted energy-volume curve has no minimum")
    t0 = min(roots, key=lambda r: abs(r - t.mean()))
    v0 = t0**-1.5
    b0 = 4.0 / 9.0 * d2(t0) * t0**3.5
    b1 = 4.0 + 2.0 / 3.0 * t0 * d3(t0) / d2(t0)
    return float(v0), float(b0 / GPa), float(b1), float(poly(t0))


def equation_of_state(
    calculator: BaseCalculator,
    elements: Iterable[str | int] | None = None,
    *,
    npoints: int = 7,
    window: float = 0.06,
    on_error: str = "raise",
) -> BenchmarkResult:
    """Equation of state of the elemental crystals against WIEN2k PBE (the Delta test).

    Args:
        calculator: Any ASE calculator that handles periodic cells.
        elements: The model's elements (symbols or atomic numbers); defaults to
            ``calculator.elements``. The benchmark runs on their intersection with
            `DCDFT_ELEMENTS`.
        npoints: Number of volumes (7 in the Delta test).
        window: Volumes span ``1 ± window`` times the reference V0 (0.06 in the Delta test).
        on_error: ``"raise"``, or ``"skip"`` to leave out an element whose calculation or
            fit fails (listed in ``data["skipped"]``).

    Returns:
        ``BenchmarkResult("equation_of_state", "materials")`` with ``v0_mae_a3``
        (Å³/atom), ``b0_mae_gpa``, ``b1_mae``, ``delta_mev`` (mean Delta gauge, meV/atom)
        and ``n_elements``. ``data`` holds per element (``systems``) the reference and
        fitted V0 (``reference``/``predicted``), B0, B′, Delta, and the energy–volume points.
    """
    if npoints < 5:
        raise ValueError("equation_of_state needs at least 5 volumes for a 4-parameter fit")
    chosen, not_in_set = _chosen_elements(calculator, elements)
    evaluate = EnergyEvaluator(calculator, "equation_of_state", on_error)
    factors = np.linspace(1.0 - window, 1.0 + window, npoints)
    rows: dict[str, list] = {
        k: []
        for k in (
            "systems",
            "reference",
            "predicted",
            "b0_reference",
            "b0_predicted",
            "b1_reference",
            "b1_predicted",
            "delta_mev",
            "e0_ev_per_atom",
            "volumes",
            "energies",
            "minimum_in_range",
        )
    }
    skipped: dict[str, str] = {}
    for symbol in chosen:
        atoms, v_ref, b_ref, b1_ref = dcdft_reference(symbol)
        n = len(atoms)
        volumes = v_ref * factors
        energies = np.array(
            [
                evaluate(f"{symbol}@{f:.3f}", _scaled(atoms, v)) / n
                for f, v in zip(factors, volumes, strict=True)
            ]
        )
        if not np.isfinite(energies).all():
            skipped[symbol] = "calculation failed"
            continue
        try:
            v0, b0, b1, e0 = fit_birch_murnaghan(volumes, energies)
        except ValueError as exc:
            if on_error == "raise":
                raise RuntimeError(f"equation_of_state: fit failed for {symbol}: {exc}") from exc
            skipped[symbol] = f"fit failed: {exc}"
            continue
        rows["systems"].append(symbol)
        rows["reference"].append(v_ref)
        rows["predicted"].append(v0)
        rows["b0_reference"].append(b_ref)
        rows["b0_predicted"].append(b0)
        rows["b1_reference"].append(b1_ref)
        rows["b1_predicted"].append(b1)
        rows["delta_mev"].append(delta_value((v0, b0, b1), (v_ref, b_ref, b1_ref)))
        rows["e0_ev_per_atom"].append(e0)
        rows["volumes"].append(volumes.tolist())
        rows["energies"].append(energies.tolist())
        rows["minimum_in_range"].append(bool(volumes[0] <= v0 <= volumes[-1]))

    def mae(a: str, b: str) -> float:
        if not rows[a]:
            return math.nan
        return float(np.mean(np.abs(np.subtract(rows[a], rows[b]))))

    metrics = {
        "v0_mae_a3": mae("predicted", "reference"),
        "b0_mae_gpa": mae("b0_predicted", "b0_reference"),
        "b1_mae": mae("b1_predicted", "b1_reference"),
        "delta_mev": float(np.mean(rows["delta_mev"])) if rows["delta_mev"] else math.nan,
        "n_elements": float(len(rows["systems"])),
    }
    units = {
        "v0_mae_a3": "Å^3/atom",
        "b0_mae_gpa": "GPa",
        "b1_mae": "dimensionless",
        "delta_mev": "meV/atom",
        "n_elements": "count",
    }
    data = {
        **rows,
        "quantity": "V0 (Å^3/atom)",
        "unit": "Å^3/atom",
        "reference_level": "WIEN2k all-electron PBE (ase.collections.dcdft)",
        "volume_factors": factors.tolist(),
    }
    if skipped:
        data["skipped"] = skipped
    if evaluate.failures:
        data["failures"] = dict(evaluate.failures)
    if not_in_set:
        data["not_in_dcdft"] = not_in_set
    return BenchmarkResult(
        name="equation_of_state",
        domain="materials",
        metrics=metrics,
        units=units,
        data=data,
        calculator=describe_calculator(calculator),
    )
