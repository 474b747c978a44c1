"""The datasheet page (Markdown) and plot of a domain-bridging set, from its metadata."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ROLE = (
    "domain-bridging set (DBS): the same training structures at both levels of theory, to "
    "align the heads' potential-energy surfaces (SevenNet-Omni)"
)

SAMPLING = """\
Structures drawn from the **training splits only** of `mol` (GFN2-xTB), `surf` and `bulk`
(GFN1-xTB): never from their validation or test splits, never from `mol-base`, so every
held-out set of the other datasets stays unseen. Each source is sampled round-robin over its
structure families in a seeded order (one structure per family and round), and every
structure is labelled afresh at **both** GFN1-xTB and GFN2-xTB with the settings of the other
datasets. The level of its source reproduces the source's stored labels exactly (largest
deviation above). GFN2-xTB does not converge on many metallic cells and slabs with these
settings (250 iterations, 300 K); a structure whose SCF fails at either level is replaced by
the next structure of the same family (up to two reserves per chosen structure), so metallic
families are under-represented. Structure family = `<source>:<family of the source>`."""


def _time_load(name: str) -> float:
    from . import load_atoms

    start = time.perf_counter()
    load_atoms(name, "train")
    return time.perf_counter() - start


def render(name: str) -> str:
    """The Markdown datasheet of a domain-bridging set."""
    from ase.data import atomic_numbers

    from . import isolated_atom_energies, metadata, path

    meta = metadata(name)
    prov, split = meta["provenance"], meta["splits"]["train"]
    levels = meta["levels"]
    v = prov["versions"]
    keys = ", ".join(
        f"`{lv}`: `{d['keys']['energy']}`, `{d['keys']['forces']}`, `{d['keys']['stress']}` "
        f"({d['method']})"
        for lv, d in levels.items()
    )
    dev = prov["native_label_max_deviation"]
    lines = [f"# `{name}`", "", f"Role: {ROLE}.", "", "## Levels of theory and settings", ""]
    lines += [
        f"- Methods: **{' and '.join(prov['methods'])}** with tblite {v['tblite']} "
        f"(`tblite.ase.TBLite`), ASE {v['ase']}.",
        "- Settings: "
        + ", ".join(f"`{k}={val}`" for k, val in prov["settings"].items())
        + ". Every geometry is a fresh SCF from atomic densities at each level.",
        f"- Labels, one set per level: {keys}. Energy (eV), forces (eV/Å); stress "
        "(eV/Å³, Voigt xx yy zz yz xz xy, ASE sign) for the structures from "
        + ", ".join(f"`{s}`" for s in meta["stress_sources"])
        + " only (3-D periodic cells).",
        f"- Recomputed labels at the source's own level against the source's stored labels: "
        f"largest deviation {dev['energy']:.1e} eV (energy), {dev['forces']:.1e} eV/Å "
        f"(forces), {dev['stress']:.1e} eV/Å³ (stress).",
        f"- SCF failures (structure replaced by a reserve, or dropped): {len(prov['skipped'])}.",
        "",
        "## Sampling",
        "",
        SAMPLING,
        "",
        "## Size",
        "",
        "| source | split drawn from | requested | stored |",
        "|---|---|---|---|",
    ]
    for source, s in prov["sources"].items():
        lines.append(
            f"| `{source}` | {s['split']} | {s['requested']} | {split['sources'].get(source, 0)} |"
        )
    types = ", ".join(f"{k} {n}" for k, n in split["config_types"].items())
    lines += [
        f"| all | | {sum(s['requested'] for s in prov['sources'].values())} "
        f"| **{split['frames']}** |",
        "",
        f"{split['frames']} structures, {split['atoms']} atoms, {len(split['families'])} "
        f"families; config types: {types}. One split, `train`: a DBS is training data.",
        "",
        "## Elements (atom counts)",
        "",
        "| element | atoms | "
        + " | ".join(f"E0 {d['method']} (eV)" for d in levels.values())
        + " |",
        "|---|---|" + "---|" * len(levels),
    ]
    e0 = {lv: isolated_atom_energies(name, lv) for lv in levels}
    for el, count in sorted(split["element_counts"].items(), key=lambda kv: atomic_numbers[kv[0]]):
        z = atomic_numbers[el]
        lines.append(
            f"| {el} | {count} | " + " | ".join(f"{e0[lv][z]:.4f}" for lv in levels) + " |"
        )
    a = meta["analysis"]["gfn2_minus_gfn1"]
    by_source = ", ".join(f"`{s}` {x:.3f}" for s, x in a["std_ev_per_atom_by_source"].items())
    lines += [
        "",
        "E0 is the energy of the free neutral atom in its ground-state spin multiplicity at "
        "each level.",
        "",
        "## How different are the two levels here?",
        "",
        "GFN2 − GFN1 on these structures, after one least-squares reference energy per element: "
        f"standard deviation **{a['std_ev_per_atom']:.3f} eV/atom** "
        f"({a['std_ev_per_structure']:.3f} eV per structure, largest |residual| "
        f"{a['max_abs_ev']:.2f} eV); per source (eV/atom): {by_source}. This is the "
        "disagreement a model with one head per level has to represent, and the DBS shows both "
        "heads the same geometries.",
        "",
        f"![{name}: GFN2 − GFN1](img/{name}.png)",
        "",
        "Left: GFN2 − GFN1 energy per atom after the per-element alignment over all "
        "structures, by source. Right: GFN2 − GFN1 force components.",
        "",
    ]
    size = sum(p.stat().st_size for p in path(name, "train").parent.iterdir())
    lines += [
        "## Files and loading",
        "",
        f"`mmh_data/datasets/data/{name}/`: `train.npz` (concatenated atoms with offsets, "
        f"per-level label arrays) and `metadata.json`; {size / 1e6:.2f} MB in all.",
        "",
        "```python",
        "from mmh_data import datasets",
        "",
        f'frames = datasets.load_atoms("{name}", "train")  # ase.Atoms, both label sets',
        'frames[0].info["gfn1_energy"], frames[0].info["gfn2_energy"]',
        'frames[0].info["source"], frames[0].info["source_index"]  # e.g. "bulk", 17',
        f'datasets.label_levels("{name}")  # {{"gfn1": {{"energy": "gfn1_energy", ...}}, ...}}',
        f'datasets.isolated_atom_energies("{name}", "gfn2")  # {{Z: eV}}',
        "```",
        "",
        f"Loading time (one core): {_time_load(name):.2f} s. Export: "
        f"`mmh-data datasets export {name} train -o {name}.xyz` (extended XYZ keeps both "
        "label sets). In training, use it in the `bridging` section (see "
        "[selective regularisation and domain-bridging sets](../training-bridging.md)).",
        "",
        "## Generation",
        "",
        "```bash",
        f"mmh-data datasets generate {name} --workers 2 --seed {prov['seed']}",
        "```",
        "",
        "Needs the `mol`, `surf` and `bulk` datasets. Resumable (one chunk file per "
        "(source, family) in the work directory) and deterministic from the seed and the "
        f"source datasets. Generated {prov['generated'][:10]} on 2 worker processes with one "
        f"thread each, at the lowest CPU priority beside another job: "
        f"**{prov['wall_s'] / 60:.1f} min wall time, {prov['cpu_s'] / 60:.1f} CPU-min** of "
        "labelling.",
        "",
    ]
    return "\n".join(lines)


def draw(name: str, out_dir: Path) -> Path:
    """Histogram GFN2 − GFN1 (aligned energy per atom, force components) by source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import load_arrays
    from ._levels import aligned_difference

    arr = load_arrays(name, "train")
    off = arr["offsets"]
    numbers = [arr["numbers"][off[i] : off[i + 1]].astype(int) for i in range(len(off) - 1)]
    fit = aligned_difference(arr["gfn2_energy"] - arr["gfn1_energy"], numbers)
    per_atom = fit["residual"] / fit["natoms"]
    atom_source = np.repeat(arr["source"], np.diff(off))
    dforces = arr["gfn2_forces"] - arr["gfn1_forces"]
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
    for source in sorted(set(arr["source"].tolist())):
        kw = {"bins": 40, "histtype": "step", "label": source}
        axes[0].hist(per_atom[arr["source"] == source], **kw)
        axes[1].hist(dforces[atom_source == source].ravel(), log=True, **kw)
    axes[0].set_xlabel("GFN2 − GFN1, aligned (eV/atom)")
    axes[1].set_xlabel("GFN2 − GFN1 force component (eV/Å)")
    axes[0].set_ylabel("structures")
    axes[0].legend()
    fig.suptitle(name)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
