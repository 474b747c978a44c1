"""Datasheet plots: energy, force and stress distributions per dataset and split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLORS = {"train": "tab:blue", "valid": "tab:orange", "test": "tab:green", "ood": "tab:red"}


def _per_split(name: str):
    from . import isolated_atom_energies, load_arrays, metadata

    e0 = isolated_atom_energies(name)
    out = {}
    for split in metadata(name)["splits"]:
        arr = load_arrays(name, split)
        off = arr["offsets"]
        ref = np.array([e0[int(z)] for z in arr["numbers"]])
        ref_sum = np.add.reduceat(ref, off[:-1]) if len(ref) else ref
        natoms = np.diff(off)
        out[split] = {
            "e_per_atom": (arr["energy"] - ref_sum) / natoms,
            "forces": arr["forces"].ravel(),
            "stress": arr["stress"].ravel() if "stress" in arr else None,
        }
    return out


def draw(name: str, out_dir: Path) -> Path:
    """Histogram energies (relative to free atoms), forces and stress of one dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = _per_split(name)
    has_stress = any(d["stress"] is not None for d in data.values())
    ncol = 3 if has_stress else 2
    fig, axes = plt.subplots(1, ncol, figsize=(4.2 * ncol, 3.4))
    for split, d in data.items():
        kw = {"bins": 60, "histtype": "step", "color": COLORS[split], "label": split}
        axes[0].hist(d["e_per_atom"], density=True, **kw)
        axes[1].hist(d["forces"], log=True, density=True, **kw)
        if has_stress:
            axes[2].hist(d["stress"], log=True, density=True, **kw)
    axes[0].set_xlabel("(E − Σ E0) / atom (eV)")
    axes[1].set_xlabel("force component (eV/Å)")
    if has_stress:
        axes[2].set_xlabel("stress component (eV/Å³)")
    axes[0].set_ylabel("density")
    axes[0].legend()
    fig.suptitle(f"{name}")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_levels(residual_per_atom: np.ndarray, std: float, out_dir: Path) -> Path:
    """Histogram of GFN2 − GFN1 residuals per atom after the E0 alignment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.hist(residual_per_atom, bins=80, color="tab:purple")
    ax.set_xlabel("GFN2 − GFN1 − Σ E0 (eV/atom)")
    ax.set_ylabel("frames")
    ax.set_title(f"mol geometries, σ = {std:.3f} eV/atom")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "mol-levels.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_all(out_dir: Path) -> list[Path]:
    """Draw the plots of every bundled dataset."""
    from . import bridging_names, names
    from ._datasheet_bridge import draw as draw_bridging

    paths = [draw(name, Path(out_dir)) for name in names()]
    return paths + [draw_bridging(name, Path(out_dir)) for name in bridging_names()]
