"""Relative energies of the bundled sets, at the sets' own levels of theory.

- **Interaction energies of the ``mol`` dimers.** A dimer frame of family ``dimer:A+B``
  holds the atoms of ``A`` then those of ``B`` (`dimer_parts`). Its interaction energy is
  ``E(AB) - E(A) - E(B)`` with the monomers at their geometry in the dimer (no
  counterpoise correction is needed for tight binding). It is stored per frame in the split
  files (array ``interaction_energy``, NaN for frames that are not dimers) and read as
  ``info["REF_interaction_energy"]``.
- **Adsorption energies of the ``surf`` systems** (`adsorption_energies`). For every
  surface and adsorbate of ``surf``, the slab with the adsorbate and the clean slab are
  relaxed to ``fmax`` at GFN1-xTB from the dataset's own starting structures (round 0),
  and three closed-shell gas molecules (H2, H2O, CO) are relaxed in vacuum. With the
  Open Catalyst convention for the chemical potentials (mu_H = E(H2)/2,
  mu_O = E(H2O) - E(H2), mu_C = E(CO) - mu_O), the adsorption energy per adsorbate is
  ``(E(slab+ads) - E(slab) - sum of mu) / copies``. The structures are in
  ``surf/adsorption.npz`` (not a split: no model trains on them); families
  ``<surface>+<adsorbate>``, ``<surface>+clean`` and ``gas:<molecule>``.

``mmh-data datasets relative`` computes both and records a summary under ``relative`` in
the datasets' metadata.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .._configuration import Configuration
from . import _store

__all__ = [
    "GAS_REFERENCES",
    "adsorption_energies",
    "chemical_potentials",
    "dimer_parts",
    "interaction_energies",
    "make_adsorption_set",
    "split_dimer",
]

#: The gas-phase references of the adsorption energies (closed-shell molecules).
GAS_REFERENCES = ("H2", "H2O", "CO")
#: Force threshold (eV/Å) of the relaxations of the adsorption set.
ADSORPTION_FMAX = 0.05
ADSORPTION_STEPS = 200


def dimer_parts(family: str) -> tuple[str, str] | None:
    """The two monomer names of a ``dimer:A+B`` family (``None`` for other families)."""
    if not family.startswith("dimer:"):
        return None
    a, b = family[len("dimer:") :].split("+")
    return a, b


def _monomer_size(name: str) -> int:
    from ase.build import molecule

    return len(molecule(name))


def split_dimer(atoms, family: str):
    """The two monomers (``ase.Atoms``, in the dimer's geometry) of a dimer frame."""
    parts = dimer_parts(family)
    if parts is None:
        raise ValueError(f"family {family!r} is not a dimer (dimer:A+B)")
    n_a = _monomer_size(parts[0])
    if n_a + _monomer_size(parts[1]) != len(atoms):
        raise ValueError(f"a {family} frame has {len(atoms)} atoms, not those of {parts}")
    return atoms[:n_a], atoms[n_a:]


def _dimer_interaction(args) -> tuple[float, float]:
    from ase import Atoms
    from ase.calculators.calculator import CalculationFailed

    from ._label import limit_threads, make_calculator

    limit_threads()
    start = time.process_time()
    method, numbers, positions, family, e_dimer = args
    atoms = Atoms(numbers=numbers, positions=positions)
    total = e_dimer
    try:
        for part in split_dimer(atoms, family):
            part.calc = make_calculator(method)
            total -= float(part.get_potential_energy())
    except CalculationFailed:
        total = float("nan")
    return total, time.process_time() - start


def interaction_energies(name: str = "mol", *, workers: int = 2, data: Path | None = None):
    """Compute the interaction energy of every dimer frame of ``name`` at its level of
    theory and store it in its split files (array ``interaction_energy``).

    Returns:
        The summary stored under ``relative.interaction`` in the metadata.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from ._generate import DATA_DIR, _say
    from ._label import limit_threads

    data = Path(data) if data is not None else DATA_DIR
    meta_path = data / name / "metadata.json"
    meta = json.loads(meta_path.read_text())
    method = meta["provenance"]["method"]
    wall, cpu, counts = time.time(), 0.0, {}
    ctx = get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=limit_threads) as pool:
        for split in meta["splits"]:
            arrays = _store.load(data / name / f"{split}.npz")
            off = arrays["offsets"]
            index = [i for i, f in enumerate(arrays["family"]) if dimer_parts(str(f))]
            jobs = [
                (
                    method,
                    arrays["numbers"][off[i] : off[i + 1]].astype(int),
                    arrays["positions"][off[i] : off[i + 1]],
                    str(arrays["family"][i]),
                    float(arrays["energy"][i]),
                )
                for i in index
            ]
            values = np.full(len(off) - 1, np.nan)
            for i, (value, spent) in zip(
                index, pool.map(_dimer_interaction, jobs, chunksize=8), strict=True
            ):
                values[i] = value
                cpu += spent
            arrays["interaction_energy"] = values
            _store.save(data / name / f"{split}.npz", arrays)
            counts[split] = int(np.isfinite(values).sum())
            _say(f"{name}/{split}: {counts[split]} interaction energies at {method}")
    summary = {
        "method": method,
        "frames": counts,
        "definition": "E(AB) - E(A) - E(B), monomers at their geometry in the dimer",
        "command": f"mmh-data datasets relative {name}",
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": time.time() - wall,
        "cpu_s": cpu,
    }
    return _record(meta_path, meta, "interaction", summary)


def _record(meta_path: Path, meta: dict, key: str, summary: dict) -> dict:
    """Store ``summary`` under ``relative.<key>`` in a dataset's metadata file."""
    meta.setdefault("relative", {})[key] = summary
    meta_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return summary


def chemical_potentials(gas: dict[str, float]) -> dict[str, float]:
    """mu of H, O and C (eV) from the energies of H2, H2O and CO (Open Catalyst
    convention)."""
    mu_h = gas["H2"] / 2.0
    mu_o = gas["H2O"] - gas["H2"]
    return {"H": mu_h, "O": mu_o, "C": gas["CO"] - mu_o}


def adsorption_energies(energies: dict[str, float]) -> dict[str, float]:
    """Adsorption energy (eV per adsorbate) of every ``<surface>+<adsorbate>`` system.

    Args:
        energies: Total energies by family of the adsorption set: the systems,
            ``<surface>+clean`` and ``gas:H2``, ``gas:H2O``, ``gas:CO``.
    """
    from ._builders_surf import ADSORBATES

    mu = chemical_potentials({g: energies[f"gas:{g}"] for g in GAS_REFERENCES})
    out = {}
    for family, energy in energies.items():
        if family.startswith("gas:") or family.endswith("+clean"):
            continue
        surface, adsorbate = family.split("+", 1)
        copies, parts = ADSORBATES[adsorbate]
        reference = energies[f"{surface}+clean"] + copies * sum(mu[s] for s, _ in parts)
        out[family] = (energy - reference) / copies
    return out


def _relaxed(args) -> tuple[str, Configuration | None, float, int, float]:
    """Relax one structure of the adsorption set; its family, last frame, max force,
    steps and CPU seconds."""
    from ._label import limit_threads

    limit_threads()
    from ._builders_surf import METHOD, equilibrium_lattice, initial_structure, system_task
    from ._sampling import relax
    from ._task import Task

    start = time.process_time()
    family, seed = args
    log: list = []
    if family.startswith("gas:"):
        from ase.build import molecule

        atoms = molecule(family[len("gas:") :])
        atoms.center(vacuum=6.0)
        atoms.pbc = False
        fmax = 0.01
    else:
        surface, adsorbate = family.split("+", 1)
        a = equilibrium_lattice(surface, log)
        task = Task("surf", surface, surface, {"surface": surface, "round": 0}, seed)
        atoms = initial_structure(system_task(task, adsorbate), a)
        fmax = ADSORPTION_FMAX
    _, frames = relax(atoms, METHOD, False, fmax, ADSORPTION_STEPS, "none", log)
    if not frames:
        return family, None, float("nan"), 0, time.process_time() - start
    last = frames[-1]
    free = np.ones(last.num_atoms, bool)
    for c in atoms.constraints:
        free[c.index] = False
    max_force = float(np.linalg.norm(last.forces[free], axis=1).max())
    return family, last, max_force, len(frames), time.process_time() - start


def adsorption_families() -> list[str]:
    """Every family of the adsorption set: systems, clean slabs and gas molecules."""
    from ._builders_surf import ADSORBATES, SURFACES

    systems = [f"{s}+{a}" for s in SURFACES for a in ADSORBATES]
    return systems + [f"gas:{g}" for g in GAS_REFERENCES]


def make_adsorption_set(*, seed: int = 0, workers: int = 2, data: Path | None = None) -> dict:
    """Relax the structures of the adsorption set at GFN1-xTB and write
    ``surf/adsorption.npz``; the reference adsorption energies go under
    ``relative.adsorption`` in the ``surf`` metadata.

    Returns:
        That summary.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from ._generate import DATA_DIR, _say
    from ._label import limit_threads

    data = Path(data) if data is not None else DATA_DIR
    meta_path = data / "surf" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    wall = time.time()
    ctx = get_context("spawn")
    jobs = [(family, seed) for family in adsorption_families()]
    frames, families, relaxations, cpu = [], [], {}, 0.0
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=limit_threads) as pool:
        for family, last, max_force, steps, spent in pool.map(_relaxed, jobs):
            cpu += spent
            relaxations[family] = {"fmax": max_force, "evaluations": steps}
            if last is None:
                _say(f"adsorption set: {family} failed")
                continue
            frames.append(last.replace(config_type="relaxed"))
            families.append(family)
            _say(f"adsorption set: {family} max force {max_force:.3f} eV/Å, {steps} evaluations")
    _store.save(data / "surf" / "adsorption.npz", _store.frames_to_arrays(frames, families))
    energies = {f: fr.energy for f, fr in zip(families, frames, strict=True)}
    summary = {
        "method": "GFN1-xTB",
        "file": "adsorption.npz",
        "gas_references": list(GAS_REFERENCES),
        "fmax": ADSORPTION_FMAX,
        "relaxations": relaxations,
        "adsorption_energies": adsorption_energies(energies),
        "command": f"mmh-data datasets relative surf --seed {seed}",
        "seed": seed,
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_s": time.time() - wall,
        "cpu_s": cpu,
    }
    return _record(meta_path, meta, "adsorption", summary)
