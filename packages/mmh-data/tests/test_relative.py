"""Relative energies: how a dimer splits into its monomers, and the adsorption energies of
given total energies."""

from __future__ import annotations

import pytest
from ase.build import molecule
from mmh_data import datasets
from mmh_data.datasets._relative import adsorption_families, chemical_potentials, dimer_parts


def test_a_dimer_frame_splits_into_its_two_monomers():
    assert dimer_parts("dimer:H2O+NH3") == ("H2O", "NH3")
    assert dimer_parts("g2:H2O") is None
    dimer = molecule("H2O") + molecule("NH3")
    a, b = datasets.split_dimer(dimer, "dimer:H2O+NH3")
    assert a.get_chemical_formula() == "H2O" and b.get_chemical_formula() == "H3N"
    with pytest.raises(ValueError, match="not those of"):
        datasets.split_dimer(dimer, "dimer:H2O+CH4")
    with pytest.raises(ValueError, match="not a dimer"):
        datasets.split_dimer(dimer, "g2:H2O")


def test_bundled_dimers_split_into_monomers_of_the_right_formula():
    frames = [a for a in datasets.load_atoms("mol", "test") if "REF_interaction_energy" in a.info]
    assert len(frames) > 20
    for atoms in frames[:10]:
        names = dimer_parts(atoms.info["family"])
        parts = datasets.split_dimer(atoms, atoms.info["family"])
        for name, part in zip(names, parts, strict=True):
            assert part.get_chemical_formula() == molecule(name).get_chemical_formula()


def test_adsorption_energies_use_the_open_catalyst_references():
    gas = {"H2": -10.0, "H2O": -20.0, "CO": -30.0}
    mu = chemical_potentials(gas)
    assert mu == pytest.approx({"H": -5.0, "O": -10.0, "C": -20.0})
    energies = {f"gas:{k}": v for k, v in gas.items()}
    energies |= {"Cu(111)+clean": -100.0, "Cu(111)+CO": -131.5, "Cu(111)+H": -111.0}
    energies |= {"Cu(111)+OH": -132.0}
    out = datasets.adsorption_energies(energies)
    # CO: -131.5 - (-100) - (-20 - 10); H: two copies, (-111 + 100 + 2 * 5) / 2
    assert out["Cu(111)+CO"] == pytest.approx(-1.5)
    assert out["Cu(111)+H"] == pytest.approx(-0.5)
    assert out["Cu(111)+OH"] == pytest.approx((-132.0 + 100.0 + 2 * 15.0) / 2)
    assert set(out) == {"Cu(111)+CO", "Cu(111)+H", "Cu(111)+OH"}


def test_the_bundled_adsorption_set_has_every_system_that_converged_its_scf():
    frames = datasets.load_adsorption()
    relaxations = datasets.metadata("surf")["relative"]["adsorption"]["relaxations"]
    failed = {f for f, r in relaxations.items() if r["evaluations"] == 0}
    assert sorted(a.info["family"] for a in frames) == sorted(set(adsorption_families()) - failed)
    assert len(failed) <= 2
    stored = datasets.metadata("surf")["relative"]["adsorption"]["adsorption_energies"]
    systems = [f for f in adsorption_families() if not f.startswith("gas:")]
    assert set(stored) == {f for f in systems if not f.endswith("+clean")} - failed
