"""Toy calculators and analytic curves shared by the tests of mmh-bench."""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT


def morse(r, depth=2.0, a=1.5, r0=1.2):
    """Morse energy (zero at infinity) and the force along r, -dE/dr."""
    x = np.exp(-a * (np.asarray(r) - r0))
    energy = depth * (1.0 - x) ** 2 - depth
    force = -2.0 * depth * a * x * (1.0 - x)
    return energy, force


def lennard_jones(r, epsilon=1.0, sigma=1.5):
    r = np.asarray(r)
    s6 = (sigma / r) ** 6
    return 4.0 * epsilon * (s6**2 - s6), 24.0 * epsilon * (2.0 * s6**2 - s6) / r


class PairMorse(Calculator):
    """A local calculator: sum of Morse pair energies over all pairs (no cell used)."""

    implemented_properties = ("energy", "forces")

    def __init__(self, depth=2.0, a=1.5, r0=1.2, **kwargs):
        super().__init__(**kwargs)
        self.morse = {"depth": depth, "a": a, "r0": r0}

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos = self.atoms.positions
        d = pos[:, None] - pos[None]
        r = np.linalg.norm(d, axis=-1)
        np.fill_diagonal(r, 1.0)
        e, f = morse(r, **self.morse)
        np.fill_diagonal(e, 0.0)
        np.fill_diagonal(f, 0.0)
        self.results["energy"] = float(e.sum() / 2)
        self.results["forces"] = ((f / r)[..., None] * d).sum(axis=1)


class CoulombLike(EMT):
    """EMT plus k Σ_{i<j} 1/r_ij over every pair of atoms: deliberately non-local."""

    def __init__(self, k=1.0, **kwargs):
        super().__init__(**kwargs)
        self.k = k

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos = self.atoms.positions
        d = pos[:, None] - pos[None]
        r = np.linalg.norm(d, axis=-1)
        np.fill_diagonal(r, np.inf)
        self.results["energy"] += self.k * float((1.0 / r).sum() / 2)
        self.results["forces"] = self.results["forces"] + self.k * (d / r[..., None] ** 3).sum(1)
        self.results["free_energy"] = self.results["energy"]


class SizeDependent(EMT):
    """EMT plus c N²: the energy depends on the total number of atoms, forces do not."""

    def __init__(self, c=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.c = c

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["energy"] += self.c * len(self.atoms) ** 2
        self.results["free_energy"] = self.results["energy"]


class Labels(Calculator):
    """Returns the stored labels of known structures, shifted by fixed offsets."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, frames, de_per_atom=0.0, df=0.0, ds=0.0, elements=None, **kwargs):
        super().__init__(**kwargs)
        self.table = {self._key(a): a for a in frames}
        self.offsets = (de_per_atom, df, ds)
        if elements is not None:
            self.elements = elements

    @staticmethod
    def _key(atoms):
        return atoms.numbers.tobytes() + np.round(atoms.positions, 6).tobytes()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        ref = self.table[self._key(self.atoms)]
        de, df, ds = self.offsets
        self.results["energy"] = ref.info["REF_energy"] + de * len(ref)
        self.results["forces"] = ref.arrays["REF_forces"] + df
        if "REF_stress" in ref.info:
            self.results["stress"] = np.asarray(ref.info["REF_stress"]) + ds
