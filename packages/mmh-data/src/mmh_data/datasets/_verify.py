"""Checks that the stored labels are real: recomputation, finite differences, two levels.

Meant to run in a fresh interpreter with one OpenMP thread (see ``limit_threads``); the
tests call `run_checks` that way and assert on its result.
"""

from __future__ import annotations

import numpy as np

from ._label import limit_threads


def _frames(name: str) -> list:
    from . import load_atoms, metadata

    return [a for split in metadata(name)["splits"] for a in load_atoms(name, split)]


def _pick(frames: list, count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [frames[i] for i in rng.choice(len(frames), size=count, replace=False)]


def recompute(name: str, count: int = 20, seed: int = 2024) -> dict:
    """Largest deviations between stored and recomputed labels on ``count`` random frames."""
    from . import metadata
    from ._label import make_calculator

    method = metadata(name)["provenance"]["method"]
    worst = {"energy": 0.0, "forces": 0.0, "stress": 0.0, "frames": count}
    for atoms in _pick(_frames(name), count, seed):
        ref = atoms.copy()
        ref.calc = make_calculator(method)
        worst["energy"] = max(
            worst["energy"], abs(ref.get_potential_energy() - atoms.info["REF_energy"])
        )
        worst["forces"] = max(
            worst["forces"], float(np.abs(ref.get_forces() - atoms.arrays["REF_forces"]).max())
        )
        if "REF_stress" in atoms.info:
            dev = float(np.abs(ref.get_stress() - atoms.info["REF_stress"]).max())
            worst["stress"] = max(worst["stress"], dev)
    return worst


def finite_differences(picks, delta: float = 2e-3, seed: int = 7) -> list[dict]:
    """Central differences of the energy against stored forces on two atoms per frame.

    Args:
        picks: ``(dataset, number of frames)`` pairs.
        delta: Displacement (Å).
        seed: Seed of the frame and atom choice.
    """
    from . import metadata
    from ._label import make_calculator

    rng = np.random.default_rng(seed)
    out = []
    for name, count in picks:
        method = metadata(name)["provenance"]["method"]
        for atoms in _pick(_frames(name), count, seed + 4):
            forces = atoms.arrays["REF_forces"]
            work = atoms.copy()
            work.calc = make_calculator(method)
            strongest = int(np.argmax(np.linalg.norm(forces, axis=1)))
            for i in sorted({strongest, int(rng.integers(len(atoms)))}):
                k = int(np.argmax(np.abs(forces[i])))
                energies = []
                for sign in (1.0, -1.0):
                    pos = atoms.positions.copy()
                    pos[i, k] += sign * delta
                    work.positions = pos
                    energies.append(work.get_potential_energy())
                fd = -(energies[0] - energies[1]) / (2 * delta)
                out.append({"dataset": name, "stored": float(forces[i, k]), "fd": float(fd)})
    return out


def levels(count: int = 100, seed: int = 3) -> dict:
    """GFN2 − GFN1 spread after the E0 alignment on ``count`` random ``mol`` frames."""
    from ._levels import aligned_difference, energies

    frames = _pick(_frames("mol"), count, seed)
    nums = [a.numbers for a in frames]
    e1 = energies(nums, [a.positions for a in frames], "GFN1-xTB")
    e2 = np.array([a.info["REF_energy"] for a in frames])
    ok = np.isfinite(e1)
    kept = [z for z, good in zip(nums, ok, strict=True) if good]
    result = aligned_difference((e2 - e1)[ok], kept)
    return {"std_ev_per_atom": result["std_ev_per_atom"], "frames": int(ok.sum())}


def extra_level_recompute(name: str, level: str, count: int = 20, seed: int = 5) -> dict:
    """Largest deviations between the stored second-level labels (see `_relabel`) and a
    recomputation, on ``count`` random frames that carry them."""
    from . import metadata
    from ._label import make_calculator

    info = metadata(name)["extra_levels"][level]
    keys = info["keys"]
    frames = [a for a in _frames(name) if keys["energy"] in a.info]
    worst = {"energy": 0.0, "forces": 0.0, "frames": count}
    for atoms in _pick(frames, count, seed):
        ref = atoms.copy()
        ref.calc = make_calculator(info["method"])
        dev_e = abs(ref.get_potential_energy() - atoms.info[keys["energy"]])
        dev_f = float(np.abs(ref.get_forces() - atoms.arrays[keys["forces"]]).max())
        worst["energy"], worst["forces"] = max(worst["energy"], dev_e), max(worst["forces"], dev_f)
    return worst


def interaction_recompute(count: int = 10, seed: int = 13) -> dict:
    """Largest deviation (eV) between the stored interaction energies of ``count`` random
    ``mol`` dimer frames and a recomputation of their monomers."""
    from . import metadata
    from ._label import make_calculator
    from ._relative import split_dimer

    method = metadata("mol")["provenance"]["method"]
    frames = [a for a in _frames("mol") if "REF_interaction_energy" in a.info]
    worst = 0.0
    for atoms in _pick(frames, count, seed):
        value = atoms.info["REF_energy"]
        for part in split_dimer(atoms, atoms.info["family"]):
            part.calc = make_calculator(method)
            value -= part.get_potential_energy()
        worst = max(worst, abs(value - atoms.info["REF_interaction_energy"]))
    return {"energy": worst, "frames": count, "dimers": len(frames)}


def adsorption_recompute(count: int = 4, seed: int = 17) -> dict:
    """Largest deviations between the stored labels of ``count`` random structures of the
    adsorption set (and every gas reference) and a recomputation."""
    from . import load_adsorption
    from ._label import make_calculator

    frames = load_adsorption()
    gas = [a for a in frames if a.info["family"].startswith("gas:")]
    slabs = [a for a in frames if not a.info["family"].startswith("gas:")]
    worst = {"energy": 0.0, "forces": 0.0, "frames": count + len(gas)}
    for atoms in _pick(slabs, count, seed) + gas:
        ref = atoms.copy()
        ref.calc = make_calculator("GFN1-xTB")
        dev_e = abs(ref.get_potential_energy() - atoms.info["REF_energy"])
        dev_f = float(np.abs(ref.get_forces() - atoms.arrays["REF_forces"]).max())
        worst["energy"], worst["forces"] = max(worst["energy"], dev_e), max(worst["forces"], dev_f)
    return worst


def run_checks(names=("bulk", "surf", "mol", "mol-base")) -> dict:
    """All checks on the bundled datasets present in ``names``; a JSON-able dict."""
    from . import names as present

    limit_threads()
    have = [n for n in names if n in present()]
    out = {"recompute": {n: recompute(n) for n in have}}
    picks = [
        (n, c) for n, c in (("mol", 2), ("mol-base", 1), ("bulk", 1), ("surf", 1)) if n in have
    ]
    out["finite_differences"] = finite_differences(picks)
    if "mol" in have:
        out["levels"] = levels()
        out["extra_levels"] = {"mol/gfn1": extra_level_recompute("mol", "gfn1")}
        out["interaction"] = interaction_recompute()
    if "surf" in have:
        out["adsorption"] = adsorption_recompute()
    return out


def bridge_recompute(name: str = "bridge", per_source: int = 2, seed: int = 11) -> dict:
    """Largest deviations between stored and recomputed labels of a bridging set, at every
    level, on ``per_source`` random frames of each source."""
    from . import load_atoms, metadata
    from ._label import make_calculator

    limit_threads()
    frames = load_atoms(name, "train")
    rng = np.random.default_rng(seed)
    picks = []
    for source in sorted({a.info["source"] for a in frames}):
        mine = [a for a in frames if a.info["source"] == source]
        picks += [mine[i] for i in rng.choice(len(mine), size=per_source, replace=False)]
    worst = {"energy": 0.0, "forces": 0.0, "stress": 0.0, "frames": len(picks)}
    for spec in metadata(name)["levels"].values():
        keys = spec["keys"]
        for atoms in picks:
            ref = atoms.copy()
            ref.calc = make_calculator(spec["method"])
            dev_e = abs(ref.get_potential_energy() - atoms.info[keys["energy"]])
            dev_f = float(np.abs(ref.get_forces() - atoms.arrays[keys["forces"]]).max())
            worst["energy"] = max(worst["energy"], dev_e)
            worst["forces"] = max(worst["forces"], dev_f)
            if keys["stress"] in atoms.info:
                dev_s = float(np.abs(ref.get_stress() - atoms.info[keys["stress"]]).max())
                worst["stress"] = max(worst["stress"], dev_s)
    return worst
