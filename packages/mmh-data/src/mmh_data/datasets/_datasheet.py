"""Datasheet pages (Markdown) of the bundled datasets, written from their metadata."""

from __future__ import annotations

import time
from pathlib import Path

ROLES = {
    "bulk": "pre-training base (the analogue of OMAT in the paper)",
    "surf": "surfaces with adsorbates at the base level (the analogue of OC20)",
    "mol": "molecules at another level of theory (the analogue of SPICE/OMOL)",
    "mol-base": "cross-domain test of the base head: other molecules at the base level",
}

STRESS_NOTE = ", stress (eV/Å³, Voigt xx yy zz yz xz xy, ASE sign)"

SAMPLING = {
    "bulk": """\
Crystals of metals (fcc, bcc, hcp), covalent solids (diamond, zincblende), ionic solids
(rocksalt, rutile), oxides and binaries, in cells of 8–16 atoms (see `MATERIALS` and
`PROTOTYPES` in `mmh_data.datasets._builders_bulk`). Each crystal is started at its
experimental lattice, **relaxed at GFN1-xTB** (positions and cell, `FrechetCellFilter` + BFGS,
at most 10 steps, every second step kept as `relax`), and sampled around that equilibrium:
`strain` (random symmetric strain, ±6 % normal, ±3 % shear, plus 0.01 Å rattle), `rattle`
(±2 % strain and Gaussian displacements of 0.03–0.12 Å) and `md` (Langevin MD at a random
400–1200 K, 2 fs steps, 1 fs with hydrogen, every step kept). Two independent rounds of
this sampling per crystal (different random streams; relaxation frames kept once).
Structure family = crystal.""",
    "surf": """\
Slabs of Cu, Pd, Pt, Al (111), Cu(100) (2×2, three layers) and MgO(001) (two layers),
with the bottom layer fixed, clean or with H (×2), O, OH (×2), CO, H2O or CH3 (×2) on
random on-top or hollow sites (radicals come in pairs so that every system is closed
shell). The in-plane lattice constant is the GFN1-xTB equilibrium of the bulk in the same
in-plane supercell (hydrostatic cell relaxation). Each system is relaxed for at most 6 BFGS
steps (every second step kept as `relax`), rattled (`rattle`, 0.04–0.12 Å on the free atoms)
and run for a short Langevin MD (`md`, 300–800 K). Slabs are periodic in x and y only; no
stress is stored. Structure family = (surface, adsorbate) system.""",
    "mol": """\
Closed-shell neutral molecules of the G2 set (`ase.collections.g2`, H C N O F S Cl) and
SMILES molecules (amino acids, heterocycles, drug-like fragments; `MOL_SMILES` in
`mmh_data.datasets._molecules`) embedded with RDKit ETKDGv3 (4 conformers, kept as
`conformer`). Each molecule is relaxed at GFN2-xTB (`relax`, every fifth step), its
finite-difference Hessian gives 8 harmonic normal-mode samples at a random 300–1000 K
(`normal_mode`), plus 4 Gaussian rattles (`rattle`) and a Langevin MD run of 60 steps of
0.5 fs at 300–900 K (`md`, every fifth step). Dimers of 10 small monomers (55 pairs, 10
random orientations each, closest contact 1.7–5 Å) are `dimer`. SMILES molecules whose
formula is in the G2 selection are left out. Structure family = molecule or dimer pair.""",
    "mol-base": """\
SMILES molecules (`MOL_BASE_SMILES` in `mmh_data.datasets._molecules`) whose formulas
appear neither in the G2 selection nor in `mol`; sampled like `mol` (4 ETKDG conformers,
relaxation, 4 normal-mode samples, 4 rattles, 72 MD steps keeping every sixth) but labelled
at GFN1-xTB, the level of `bulk`. Test split only: it measures how well the base head
describes molecules it never saw.""",
}


def _time_loads(name: str) -> dict[str, float]:
    from . import load_atoms, metadata

    out = {}
    for split in metadata(name)["splits"]:
        start = time.perf_counter()
        load_atoms(name, split)
        out[split] = time.perf_counter() - start
    return out


def render(name: str) -> str:
    """The Markdown datasheet of one dataset."""
    from . import isolated_atom_energies, metadata, path

    meta = metadata(name)
    prov = meta["provenance"]
    splits = meta["splits"]
    lines = [f"# `{name}`", "", f"Role: {ROLES[name]}.", ""]
    lines += ["## Level of theory and settings", ""]
    lines += [
        f"- Method: **{prov['method']}** with tblite {prov['versions']['tblite']} "
        f"(`tblite.ase.TBLite`), ASE {prov['versions']['ase']}, RDKit {prov['versions']['rdkit']}.",
        "- Settings: "
        + ", ".join(f"`{k}={v}`" for k, v in prov["settings"].items())
        + ". Every geometry is a fresh SCF from atomic densities, so a recomputation "
        "reproduces the stored labels; structures are neutral and closed shell.",
        "- Labels: energy (eV), forces (eV/Å)" + (STRESS_NOTE if meta["has_stress"] else "") + ".",
        f"- Frames whose SCF failed are skipped and logged: {len(prov['skipped'])} here.",
        "",
        "## Sampling",
        "",
        SAMPLING[name],
        "",
        "## Sizes",
        "",
        "| split | frames | atoms | families | config types |",
        "|---|---|---|---|---|",
    ]
    for split, s in splits.items():
        types = ", ".join(f"{k} {v}" for k, v in s["config_types"].items())
        lines.append(f"| {split} | {s['frames']} | {s['atoms']} | {len(s['families'])} | {types} |")
    rule = meta.get("split_rule")
    if rule is not None and "ood" in splits:
        lines += [
            "",
            "## Splits",
            "",
            f"- `valid` and `test` are **in distribution**: {rule['holdout_per_family']:.0%} "
            "each of the frames of every training family (frames of one geometry kept "
            "together), drawn with the seed. Model selection uses `valid`.",
            f"- `ood` is **out of distribution**: {len(splits['ood']['families'])} whole "
            "structure families that training never sees, drawn with the seed among those "
            "whose elements all stay in `train`: "
            + ", ".join(f"`{f}`" for f in splits["ood"]["families"])
            + ".",
            f"- Every element of every split occurs in `train` (see the table below). "
            f"Command: `{rule['command']}` (seed {rule['seed']}; the same files as "
            "generating the dataset with that seed).",
            "",
        ]
    elif "test" in splits:
        lines += [
            "",
            "Test families: " + ", ".join(f"`{f}`" for f in splits["test"]["families"]),
            "",
        ]
    elements = sorted(
        {e for s in splits.values() for e in s["element_counts"]},
        key=lambda e: __import__("ase.data", fromlist=["atomic_numbers"]).atomic_numbers[e],
    )
    lines += ["## Elements (atom counts)", "", "| element | " + " | ".join(splits) + " | E0 (eV) |"]
    lines += ["|---|" + "---|" * len(splits) + "---|"]
    e0 = isolated_atom_energies(name)
    from ase.data import atomic_numbers

    for el in elements:
        counts = " | ".join(str(s["element_counts"].get(el, 0)) for s in splits.values())
        lines.append(f"| {el} | {counts} | {e0[atomic_numbers[el]]:.4f} |")
    lines += [
        "",
        "E0 is the energy of the free neutral atom in its ground-state spin multiplicity at the "
        "same level (the isolated-atom energies of the base head).",
        "",
        "## Distributions",
        "",
        f"![{name} distributions](img/{name}.png)",
        "",
        "Energy per atom relative to the free atoms, force components"
        + (" and stress components" if meta["has_stress"] else "")
        + " per split.",
        "",
    ]
    if "analysis" in meta and "gfn2_minus_gfn1" in meta["analysis"]:
        a = meta["analysis"]["gfn2_minus_gfn1"]
        lines += [
            "## How different are GFN2 and GFN1?",
            "",
            f"On all {a['frames']} `mol` geometries, the GFN1-xTB energy was computed and "
            "GFN2 − GFN1 fitted by one reference energy per element (least squares). What is left "
            f"has a standard deviation of **{a['std_ev_per_atom']:.3f} eV/atom** "
            f"({a['std_ev_per_structure']:.3f} eV per structure, largest |residual| "
            f"{a['max_abs_ev']:.2f} eV): the two levels have different potential-energy surfaces, "
            "not only different atomic references. Command: `mmh-data datasets levels`.",
            "",
            "![GFN2 − GFN1 residuals](img/mol-levels.png)",
            "",
        ]
    for level, info in meta.get("extra_levels", {}).items():
        keys = info["keys"]
        lines += [
            f"## A second level: {info['method']} on the same geometries",
            "",
            f"Every frame is also labelled at **{info['method']}** (energy and forces, fresh "
            f"SCF, the settings above): {info['frames']} frames, {info['scf_failures']} SCF "
            f"failures (those frames carry no {level.upper()} label). The labels are in "
            f'`info["{keys["energy"]}"]` and `arrays["{keys["forces"]}"]`; a head trains '
            f"on them with `keys: {{energy: {keys['energy']}, forces: {keys['forces']}}}` "
            "(the same-level, one-head control of the cross-learning experiments). "
            f"Command: `{info['command']}` ({info['wall_s'] / 60:.1f} min on "
            f"{info['command'].split('--workers ')[-1]} workers).",
            "",
        ]
    lines += _relative_lines(meta.get("relative", {}))
    loads = _time_loads(name)
    first = next(iter(splits))
    size = sum(p.stat().st_size for p in path(name, next(iter(splits))).parent.iterdir())
    lines += [
        "## Files and loading",
        "",
        f"`mmh_data/datasets/data/{name}/`: one compressed `.npz` per split (float64 positions, "
        f"forces, energies; concatenated atoms with offsets) and `metadata.json`; "
        f"{size / 1e6:.2f} MB in all.",
        "",
        "```python",
        "from mmh_data import datasets",
        "",
        f'frames = datasets.load_atoms("{name}", "{next(iter(splits))}")  # list of ase.Atoms',
        f'e0 = datasets.isolated_atom_energies("{name}")  # {{Z: eV}}',
        "```",
        "",
        "Loading time (one core): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in loads.items())
        + f". Export for mace: `mmh-data datasets export {name} {first} -o {name}.xyz`.",
        "",
        "## Generation",
        "",
        "```bash",
        f"mmh-data datasets generate {name} --workers 2 --seed {prov['seed']}",
        "```",
        "",
        f"Resumable (one chunk file per task in the work directory) and deterministic "
        f"from the seed. Generated {prov['generated'][:10]} on 2 worker processes with one "
        f"thread each: **{prov['wall_s'] / 60:.1f} min wall time, {prov['cpu_s'] / 60:.1f} "
        f"CPU-min** of labelling (on a shared 2-core machine).",
        "",
    ]
    return "\n".join(lines)


def _relative_lines(relative: dict) -> list[str]:
    """The relative energies stored with a dataset (see `_relative`)."""
    lines = []
    if "interaction" in relative:
        info = relative["interaction"]
        counts = ", ".join(f"{k} {v}" for k, v in info["frames"].items())
        lines += [
            "## Interaction energies of the dimers",
            "",
            f"Every dimer frame (family `dimer:A+B`, the atoms of A first) carries its "
            f"interaction energy at {info['method']}, {info['definition']}, in "
            '`info["REF_interaction_energy"]` (eV); `datasets.split_dimer` gives the two '
            f"monomers. Dimers per split: {counts}. Command: `{info['command']}` "
            f"({info['wall_s']:.0f} s).",
            "",
        ]
    if "adsorption" in relative:
        info = relative["adsorption"]
        energies = info["adsorption_energies"]
        ran = {f: r for f, r in info["relaxations"].items() if r["evaluations"]}
        failed = sorted(set(info["relaxations"]) - set(ran))
        short = {f: r["fmax"] for f, r in ran.items() if r["fmax"] > info["fmax"]}
        unconverged = "".join(
            f"; {f} stopped at the step limit with {v:.3f} eV/Å" for f, v in sorted(short.items())
        )
        lines += [
            "## Adsorption set",
            "",
            f"`{info['file']}` (not a split; `datasets.load_adsorption()`): every surface with "
            f"every adsorbate and clean, relaxed at {info['method']} from the dataset's own "
            f"starting structures (bottom layer fixed; {len(ran) - len(short)} of "
            f"{len(info['relaxations'])} structures to forces below {info['fmax']} eV/Å"
            f"{unconverged}), "
            f"and the gas references {', '.join(info['gas_references'])} relaxed in vacuum. "
            "The adsorption energy per adsorbate uses the Open Catalyst chemical potentials "
            "(mu_H = E(H2)/2, mu_O = E(H2O) − E(H2), mu_C = E(CO) − mu_O); "
            "`datasets.adsorption_energies` computes it from total energies. Command: "
            f"`{info['command']}` ({info['wall_s'] / 60:.1f} min)."
            + (
                f" The first SCF of {', '.join(failed)} did not converge; "
                f"{'it is' if len(failed) == 1 else 'they are'} left out."
                if failed
                else ""
            ),
            "",
            "These are GFN1-xTB values, and several are far from physical adsorption "
            "energies (H2O on Al(111), Pd(111) and Pt(111) below −7 eV): GFN1-xTB is a poor "
            "model of metal surfaces. The set tests whether a head reproduces the relative "
            "energies of its own level of theory, not chemistry.",
            "",
            "| system | E_ads (eV) |",
            "|---|---|",
            *(f"| {k} | {v:+.3f} |" for k, v in sorted(energies.items())),
            "",
        ]
    return lines


def render_index() -> str:
    """The overview page of all datasets."""
    from . import bridging_names, metadata, names

    lines = [
        "# Bundled datasets",
        "",
        "mmh ships four small datasets labelled with real semi-empirical electronic-structure "
        "methods (GFN1-xTB and GFN2-xTB from tblite). They play the roles of the paper's "
        "datasets on a laptop: a base set at one level of theory, a surface set at the same "
        "level, a molecular set at another level, and a cross-domain test of the base head. "
        "A domain-bridging set holds structures of their training splits at both levels.",
        "",
        "`valid` and `test` are held-out frames of the training families (in distribution); "
        "`ood` holds whole families that training never sees, with every element present in "
        "training. Each datasheet lists them.",
        "",
        "| dataset | role | method | train | valid | test | ood | elements | stress |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names():
        meta = metadata(name)
        s = meta["splits"]
        els = sorted({e for v in s.values() for e in v["element_counts"]})
        sizes = " | ".join(
            str(s[k]["frames"]) if k in s else "–" for k in ("train", "valid", "test", "ood")
        )
        lines.append(
            f"| [`{name}`]({name}.md) | {ROLES[name]} | {meta['provenance']['method']} | {sizes} "
            f"| {len(els)} | {'yes' if meta['has_stress'] else 'no'} |"
        )
    bridging = bridging_names()
    if bridging:
        from ._datasheet_bridge import ROLE

        lines += [
            "",
            "| domain-bridging set | role | methods | structures | drawn from | stress |",
            "|---|---|---|---|---|---|",
        ]
        for name in bridging:
            meta = metadata(name)
            sources = ", ".join(f"`{s}` {n}" for s, n in meta["splits"]["train"]["sources"].items())
            lines.append(
                f"| [`{name}`]({name}.md) | {ROLE} | {' + '.join(meta['provenance']['methods'])} "
                f"| {meta['splits']['train']['frames']} | train splits: {sources} "
                f"| {', '.join(meta['stress_sources'])} |"
            )
    lines += [
        "",
        "A structure family is a crystal, a surface system, a molecule or a dimer pair: "
        "`ood` families are never seen in training, and frames of one geometry stay in one "
        "split. GFN1 and GFN2 are genuinely inconsistent: see the GFN2 − GFN1 analysis on "
        "the [`mol`](mol.md) page.",
        "",
        "Relative energies: the `mol` dimers carry their interaction energies, and `surf` "
        "has an adsorption set of relaxed slabs, adsorbates and gas references with its "
        "reference adsorption energies (see the [`mol`](mol.md) and [`surf`](surf.md) "
        "pages).",
        "",
        "```python",
        "from mmh_data import datasets",
        "",
        "datasets.names()  # ['bulk', 'surf', 'mol', 'mol-base']",
        "datasets.bridging_names()  # ['bridge']",
        'frames = datasets.load_atoms("bulk", "train")',
        "slabs = datasets.load_adsorption()  # the surf adsorption set",
        'datasets.metadata("bulk")["provenance"]  # method, tblite version, settings, seed, timing',
        "```",
        "",
        "Command line (`mmh-data datasets ...` or `python -m mmh_data.datasets ...`): "
        "`info`, `export NAME SPLIT -o FILE.xyz`, `generate NAME|all [--workers N] [--seed S]`, "
        "`resplit NAME`, `relabel mol`, `relative mol|surf`, `levels`, `plots`, `datasheets`.",
        "",
    ]
    return "\n".join(lines)


def write_all(out_dir: Path) -> list[Path]:
    """Write ``index.md`` and one page per dataset into ``out_dir``."""
    from . import bridging_names, names
    from ._datasheet_bridge import render as render_bridging

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names():
        p = out_dir / f"{name}.md"
        p.write_text(render(name))
        written.append(p)
    for name in bridging_names():
        p = out_dir / f"{name}.md"
        p.write_text(render_bridging(name))
        written.append(p)
    p = out_dir / "index.md"
    p.write_text(render_index())
    return [*written, p]
