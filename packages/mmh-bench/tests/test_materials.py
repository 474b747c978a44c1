"""Equation of state against the Delta-test references."""

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.collections import dcdft
from ase.units import GPa
from mmh_bench.materials import (
    DCDFT_ELEMENTS,
    birch_murnaghan_energy,
    dcdft_reference,
    delta_value,
    equation_of_state,
    fit_birch_murnaghan,
)


class BirchMurnaghanCrystal(Calculator):
    """Energy of an elemental crystal from a given equation of state per element."""

    implemented_properties = ("energy",)

    def __init__(self, eos, elements=None):
        super().__init__()
        self.eos = eos  # {symbol: (v0, b0 [GPa], b1)}
        if elements is not None:
            self.elements = elements

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        (symbol,) = set(self.atoms.get_chemical_symbols())
        n = len(self.atoms)
        v0, b0, b1 = self.eos[symbol]
        self.results["energy"] = n * float(
            birch_murnaghan_energy(self.atoms.get_volume() / n, v0, b0, b1, e0=-3.0)
        )


def reference_eos(symbol):
    d = dcdft.data[symbol]
    return d["wien2k_volume"], d["wien2k_B"], d["wien2k_Bp"]


def delta_closed_form(eos_a, eos_b, window=0.06):
    """Delta from the exact integral of the squared difference of two polynomials in V^(-2/3).

    Evaluated in 40-digit arithmetic: the polynomial terms cancel strongly.
    """
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40

    def coefficients(v0, b0, b1):
        # E(V) = 9 V0 B0/16 [(x-1)^3 B1 + (x-1)^2 (6-4x)] with x = V0^(2/3) t, t = V^(-2/3),
        # expanded in x: (B1 - 4) x^3 + (14 - 3 B1) x^2 + (3 B1 - 16) x + (6 - B1).
        v0, b1 = mp.mpf(v0), mp.mpf(b1)
        scale = 9 * v0 * mp.mpf(b0) * mp.mpf(GPa) / 16
        c_x = [6 - b1, 3 * b1 - 16, 14 - 3 * b1, b1 - 4]
        return [scale * c_x[k] * v0 ** (mp.mpf(2 * k) / 3) for k in range(4)]

    ca, cb = coefficients(*eos_a), coefficients(*eos_b)
    c = [x - y for x, y in zip(ca, cb, strict=True)]
    mean_v0 = (mp.mpf(eos_a[0]) + mp.mpf(eos_b[0])) / 2
    lo, hi = (1 - mp.mpf(window)) * mean_v0, (1 + mp.mpf(window)) * mean_v0
    integral = mp.mpf(0)
    for k in range(4):
        for m in range(4):
            p = mp.mpf(2 * (k + m)) / 3  # the integrand term is V^(-p)
            integral += c[k] * c[m] * (hi ** (1 - p) - lo ** (1 - p)) / (1 - p)
    return float(1000 * mp.sqrt(integral / (hi - lo)))


def test_birch_murnaghan_minimum_bulk_modulus_and_derivative():
    v0, b0, b1 = 16.5, 78.0, 4.6
    h = 1e-3
    e = lambda v: float(birch_murnaghan_energy(v, v0, b0, b1))  # noqa: E731
    assert e(v0) == 0.0
    assert (e(v0 + h) - e(v0 - h)) / (2 * h) == pytest.approx(0.0, abs=1e-7)
    # B = V d2E/dV2 at V0, B' = dB/dP = -(V dB/dV)/B at V0
    bulk = lambda v: v * (e(v + h) - 2 * e(v) + e(v - h)) / h**2  # noqa: E731
    assert bulk(v0) / GPa == pytest.approx(b0, rel=1e-5)
    dbdv = (bulk(v0 + 0.01) - bulk(v0 - 0.01)) / 0.02
    assert -v0 * dbdv / bulk(v0) == pytest.approx(b1, rel=1e-3)


@pytest.mark.parametrize(
    ("eos_a", "eos_b"),
    [
        ((16.48, 78.1, 4.57), (16.48, 78.1, 4.57)),
        ((16.48, 78.1, 4.57), (16.90, 70.0, 4.20)),
        ((11.95, 141.3, 4.86), (11.57, 134.4, 4.22)),
        ((20.45, 88.5, 4.31), (20.45, 88.5, 3.00)),
    ],
)
def test_delta_matches_the_closed_form_integral(eos_a, eos_b):
    assert delta_value(eos_a, eos_b) == pytest.approx(delta_closed_form(eos_a, eos_b), abs=1e-9)
    assert delta_value(eos_a, eos_b) == pytest.approx(delta_value(eos_b, eos_a))


def test_delta_grows_with_the_volume_error():
    ref = (16.48, 78.1, 4.57)
    deltas = [delta_value((ref[0] * (1 + s), ref[1], ref[2]), ref) for s in (0.0, 0.01, 0.02)]
    assert deltas[0] == 0.0 and 0 < deltas[1] < deltas[2]


def test_fit_agrees_with_ase_and_rejects_curves_without_minimum():
    from ase.eos import EquationOfState

    atoms = dcdft["Cu"]
    n = len(atoms)
    volumes, energies = [], []
    for f in np.linspace(0.94, 1.06, 7):
        a = atoms.copy()
        a.set_cell(atoms.cell * f ** (1 / 3), scale_atoms=True)
        a.calc = EMT()
        volumes.append(a.get_volume() / n)
        energies.append(a.get_potential_energy() / n)
    v0, b0, b1, e0 = fit_birch_murnaghan(volumes, energies)
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    eos.fit()
    ase_e0, ase_b0, ase_b1, ase_v0 = eos.eos_parameters
    assert v0 == pytest.approx(ase_v0, rel=1e-6)
    assert b0 == pytest.approx(ase_b0 / GPa, rel=1e-5)
    assert b1 == pytest.approx(ase_b1, rel=1e-4)
    assert e0 == pytest.approx(ase_e0, abs=1e-8)
    with pytest.raises(ValueError, match="no minimum"):
        fit_birch_murnaghan(volumes, -np.asarray(volumes))  # E falls all the way


def test_exact_equation_of_state_is_recovered():
    elements = ["Al", "Si", "Cu"]
    calc = BirchMurnaghanCrystal({s: reference_eos(s) for s in elements}, elements=elements)
    result = equation_of_state(calc)
    assert result.name == "equation_of_state" and result.domain == "materials"
    assert result.data["systems"] == elements  # DCDFT order
    assert result.metrics["v0_mae_a3"] < 1e-6
    assert result.metrics["b0_mae_gpa"] < 1e-4
    assert result.metrics["b1_mae"] < 1e-4
    assert result.metrics["delta_mev"] < 1e-4
    assert result.units["delta_mev"] == "meV/atom"
    np.testing.assert_allclose(result.data["e0_ev_per_atom"], -3.0)


def test_shifted_equation_of_state_gives_hand_computed_errors():
    shifted = {}
    for s in ("Cu", "Au"):
        v0, b0, b1 = reference_eos(s)
        shifted[s] = (v0 * 1.02, b0 - 10.0, b1 + 0.3)
    result = equation_of_state(BirchMurnaghanCrystal(shifted), elements=[79, "Cu", "La"])
    assert result.data["systems"] == ["Cu", "Au"]
    assert result.data["not_in_dcdft"] == ["La"]
    refs = [reference_eos(s) for s in ("Cu", "Au")]
    assert result.metrics["v0_mae_a3"] == pytest.approx(np.mean([0.02 * r[0] for r in refs]))
    assert result.metrics["b0_mae_gpa"] == pytest.approx(10.0, abs=1e-3)
    assert result.metrics["b1_mae"] == pytest.approx(0.3, abs=1e-4)
    expected = np.mean([delta_value(shifted[s], reference_eos(s)) for s in ("Cu", "Au")])
    assert result.metrics["delta_mev"] == pytest.approx(expected, rel=1e-4)


def test_emt_copper_and_aluminium_are_physical():
    result = equation_of_state(EMT(), elements=["Cu", "Al"])
    by = dict(zip(result.data["systems"], range(2), strict=True))
    for symbol in ("Cu", "Al"):
        i = by[symbol]
        assert result.data["predicted"][i] == pytest.approx(result.data["reference"][i], rel=0.05)
        assert 20 < result.data["b0_predicted"][i] < 250
        assert all(result.data["minimum_in_range"])
    # EMT copper: B0 about 134 GPa, against 141 GPa for PBE.
    assert result.data["b0_predicted"][by["Cu"]] == pytest.approx(141.3, rel=0.1)


def test_element_choice_errors():
    with pytest.raises(ValueError, match="pass elements"):
        equation_of_state(EMT())
    with pytest.raises(ValueError, match="none of"):
        equation_of_state(EMT(), elements=["La"])
    with pytest.raises(KeyError):
        dcdft_reference("La")
    assert len(DCDFT_ELEMENTS) == 71
    atoms, v0, b0, b1 = dcdft_reference("Fe")
    assert atoms.get_initial_magnetic_moments().sum() > 0  # ferromagnetic start
    assert (v0, b0, b1) == pytest.approx(reference_eos("Fe"))
