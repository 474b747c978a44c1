"""DFT-D3 dispersion: settings, the missing-package message, and agreement with dftd3's own
ASE calculator (these run when simple-dftd3 is installed: ``pip install 'mmh-ase[d3]'``)."""

import sys

import numpy as np
import pytest
from ase.build import bulk
from ase.units import Bohr
from ase_kit import shared_model
from mmh_ase import D3Dispersion, D3Params, DispersionUnavailableError, MMHCalculator
from mmh_ase._dispersion import d3_params
from mmh_ase.testing import CalculatorTests, atoms_of, jittered_cell
from mmh_heads.testing import molecule


def test_default_parameters_are_the_papers():
    p = D3Params()
    assert (p.functional, p.damping, p.three_body) == ("pbe", "bj", False)
    assert p.cutoff == pytest.approx(95 * Bohr) and p.cn_cutoff == pytest.approx(40 * Bohr)
    assert d3_params({"functional": "PBE0"}).functional == "pbe0"
    with pytest.raises(ValueError, match="unknown D3 damping 'bjx'"):
        D3Params(damping="bjx")
    with pytest.raises(ValueError, match=r"unknown D3 parameter\(s\) \['xc'\]"):
        d3_params({"xc": "pbe"})
    with pytest.raises(ValueError, match="cutoff must be positive"):
        D3Params(cutoff=0.0)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dftd3", None)
    monkeypatch.setitem(sys.modules, "dftd3.interface", None)
    with pytest.raises(DispersionUnavailableError, match=r"pip install 'mmh-ase\[d3\]'"):
        D3Dispersion()
    with pytest.raises(ImportError, match="simple-dftd3"):
        MMHCalculator(shared_model(), head="base", dispersion=True)


def _reference_d3(p: D3Params):
    dftd3_ase = pytest.importorskip("dftd3.ase")
    return dftd3_ase.DFTD3(
        method=p.functional,
        damping={"bj": "d3bj", "zero": "d3zero"}[p.damping],
        realspace_cutoff={"disp2": p.cutoff, "disp3": p.three_body_cutoff, "cn": p.cn_cutoff},
    )


@pytest.mark.parametrize("structure", ["periodic", "molecule"])
def test_calculator_adds_d3_to_the_model(structure):
    """Model + D3 equals the model alone plus dftd3's own ASE calculator."""
    pytest.importorskip("dftd3")
    atoms = jittered_cell(1) if structure == "periodic" else atoms_of(molecule(2))
    plain = MMHCalculator(shared_model(), head="base")
    with_d3 = MMHCalculator(shared_model(), head="base", dispersion="d3")
    reference = _reference_d3(D3Params())
    props = ["energy", "forces"] + (["stress"] if structure == "periodic" else [])
    for name in props:
        expected = plain.get_property(name, atoms) + reference.get_property(name, atoms)
        np.testing.assert_allclose(with_d3.get_property(name, atoms), expected, atol=1e-10)
    d3_energy = reference.get_potential_energy(atoms)
    assert d3_energy < 0
    energies = with_d3.get_property("energies", atoms)
    assert energies.sum() == pytest.approx(with_d3.get_potential_energy(atoms), abs=1e-10)
    per_atom_d3 = energies - plain.get_property("energies", atoms)
    assert per_atom_d3.sum() == pytest.approx(d3_energy, abs=1e-10)
    assert (per_atom_d3 < 0).all()
    np.testing.assert_allclose(
        with_d3.get_property("node_energy", atoms), plain.get_property("node_energy", atoms)
    )
    assert "D3(pbe)" in repr(with_d3)


class TestCalculatorWithD3(CalculatorTests):
    """The calculator battery with D3 (two- and three-body) added: its forces and stress are
    the derivatives of its energy, with the wrapper's units and signs."""

    nve_steps = 0  # D3's cutoffs are sharp: energy is not conserved across them

    @pytest.fixture
    def calculator(self):
        pytest.importorskip("dftd3")
        # short cutoffs keep the test fast; the three-body term is included
        params = D3Params(three_body=True, cutoff=25.0, three_body_cutoff=10.0)
        return MMHCalculator(shared_model(), head="base", dispersion=True, dispersion_params=params)

    @pytest.fixture
    def structures(self):
        atoms = bulk("SiC", "zincblende", a=4.36) * (1, 1, 2)
        atoms.rattle(0.05, seed=3)
        atoms.numbers[atoms.numbers == 14] = 13  # elements of the test model: Al and C
        return [atoms, atoms_of(molecule(2))]


def test_d3_settings_change_the_energy():
    pytest.importorskip("dftd3")
    atoms = bulk("C", "diamond", a=3.57) * (2, 1, 1)
    two_body = D3Dispersion().calculate(atoms)["energy"]
    # (a short three-body cutoff keeps this fast)
    three_body = D3Dispersion({"three_body": True, "three_body_cutoff": 8.0}).calculate(atoms)
    three_body = three_body["energy"]
    short = D3Dispersion({"cutoff": 10.0}).calculate(atoms)["energy"]
    r2scan = D3Dispersion({"functional": "r2scan"}).calculate(atoms)["energy"]
    assert three_body > two_body  # the ATM term is repulsive in a dense crystal
    assert short > two_body  # a shorter cutoff misses attractive pairs
    assert r2scan != pytest.approx(two_body)
    with pytest.raises(ValueError, match="no D3\\(bj\\) parameters for functional 'nonsense'"):
        D3Dispersion({"functional": "nonsense"})
