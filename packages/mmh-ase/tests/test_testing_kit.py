"""The calculator kit is tested: each deliberately broken calculator fails its check."""

from __future__ import annotations

import numpy as np
import pytest
from ase_kit import shared_model
from mmh_ase import MMHCalculator
from mmh_ase import testing as kit
from mmh_ase.testing import atoms_of, jittered_cell
from mmh_heads.testing import molecule


class _Edited(MMHCalculator):
    """The calculator with its results edited after the fact."""

    def edit(self, atoms, results) -> None:
        pass

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        self.edit(self.atoms, self.results)


class ScaledForces(_Edited):
    def edit(self, atoms, results):
        results["forces"] = results["forces"] * 1.01


class FlippedStress(_Edited):
    def edit(self, atoms, results):
        if "stress" in results:
            results["stress"] = -results["stress"]


class AxisDependent(_Edited):
    def edit(self, atoms, results):
        results["energy"] = results["energy"] + 0.01 * float(np.ptp(atoms.positions[:, 0]))


class ExternalField(_Edited):
    def edit(self, atoms, results):
        results["energy"] = results["energy"] + 0.05 * float(atoms.positions[:, 0].sum())


class NonConservative(_Edited):
    """Forces with a curl: a constant torque-like term that does no work in sum."""

    def edit(self, atoms, results):
        centred = atoms.positions - atoms.positions.mean(0)
        results["forces"] = results["forces"] + 2.0 * np.cross([0.0, 0.0, 1.0], centred)


#: a periodic cell and a molecule (the checks work on copies)
CELL = jittered_cell(4)
MOLECULE = atoms_of(molecule(2))

BROKEN = {
    "forces": (ScaledForces, lambda c: kit.check_calculator_forces(c, CELL)),
    "stress": (FlippedStress, lambda c: kit.check_calculator_stress(c, CELL)),
    "o3": (AxisDependent, lambda c: kit.check_calculator_o3(c, MOLECULE)),
    "translation": (ExternalField, lambda c: kit.check_calculator_translation(c, MOLECULE)),
    "nve": (NonConservative, lambda c: kit.check_nve_drift(c, CELL, steps=100)),
}


@pytest.mark.parametrize("prop", sorted(BROKEN))
def test_each_broken_calculator_fails_its_check(prop):
    cls, check = BROKEN[prop]
    with pytest.raises(AssertionError):
        check(cls(shared_model(), head="base", default_dtype="float64"))


@pytest.mark.parametrize("prop", sorted(BROKEN))
def test_the_unbroken_calculator_passes_every_check(prop):
    _, check = BROKEN[prop]
    check(_Edited(shared_model(), head="base", default_dtype="float64"))
