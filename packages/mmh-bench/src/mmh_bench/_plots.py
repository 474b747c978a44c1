"""Figures of the report: radar chart of domain scores, diatomic curves, parity plots.

Figures are drawn on `matplotlib.figure.Figure` objects and written with the Agg
renderer, so nothing depends on (or changes) the pyplot backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_diatomics", "plot_parity", "plot_radar"]

_LABELS = {
    "materials": "Materials",
    "molecular_crystals": "Molecular\ncrystals",
    "surfaces": "Surfaces",
    "molecules": "Molecules",
    "physicality": "Physicality",
}
_ORDER = ("materials", "molecular_crystals", "surfaces", "molecules", "physicality")


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, format="png")
    return path


def plot_radar(
    domains: Mapping[str, float | None], path: str | Path, title: str = "Domain scores"
) -> Path:
    """Radar (polar) chart of the five domain scores; missing domains are drawn at 0 and
    labelled "(missing)".

    Args:
        domains: Domain → score in [0, 1] or ``None``.
        path: PNG file to write.
        title: Figure title.
    """
    values = [domains.get(d) for d in _ORDER]
    angles = np.linspace(0.0, 2.0 * math.pi, len(_ORDER), endpoint=False)
    fig = Figure(figsize=(5.5, 5.5))
    ax = fig.add_subplot(projection="polar")
    closed = np.append(angles, angles[0])
    radii = [0.0 if v is None else float(v) for v in values]
    ax.plot(closed, [*radii, radii[0]], color="C0", lw=2)
    ax.fill(closed, [*radii, radii[0]], color="C0", alpha=0.25)
    for a, v in zip(angles, values, strict=True):
        if v is not None:
            ax.annotate(f"{v:.2f}", (a, v), textcoords="offset points", xytext=(0, 6), ha="center")
    ax.set_xticks(angles)
    missing = ["\n(missing)" if v is None else "" for v in values]
    ax.set_xticklabels([_LABELS[d] + m for d, m in zip(_ORDER, missing, strict=True)])
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0])
    ax.set_title(title, pad=18)
    fig.tight_layout()
    return _save(fig, path)


def _curve_limits(shifted: np.ndarray) -> tuple[float, float]:
    finite = shifted[np.isfinite(shifted)]
    if finite.size == 0:
        return -1.0, 1.0
    depth = max(-float(finite.min()), 0.5)
    return -1.3 * depth, 2.0 * depth


def plot_diatomics(
    distances: Sequence[float],
    pairs: Mapping[str, Mapping],
    path: str | Path,
    per_page: int = 36,
) -> list[Path]:
    """Energy curves of the diatomics, one panel per pair, energies shifted to zero at the
    largest separation that has a value; pages of ``per_page`` panels.

    Args:
        distances: The common distance grid (Å).
        pairs: ``"A-B"`` → ``{"energies_ev": [...], "metrics": {...}}`` (the ``pairs``
            entry of a ``diatomics`` result).
        path: PNG file of the first page; later pages get ``_2``, ``_3``... suffixes.
        per_page: Panels per page.

    Returns:
        The files written.
    """
    r = np.asarray(distances, dtype=float)
    names = list(pairs)
    path = Path(path)
    written = []
    for page, start in enumerate(range(0, len(names), per_page)):
        chunk = names[start : start + per_page]
        ncols = min(6, len(chunk))
        nrows = math.ceil(len(chunk) / ncols)
        fig = Figure(figsize=(2.4 * ncols, 2.0 * nrows))
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for ax in axes.ravel()[len(chunk) :]:
            ax.set_visible(False)
        for ax, name in zip(axes.ravel(), chunk, strict=False):
            e = np.array(
                [np.nan if v is None else v for v in pairs[name]["energies_ev"]], dtype=float
            )
            finite = np.isfinite(e)
            shifted = e - (e[finite][-1] if finite.any() else 0.0)
            m = pairs[name].get("metrics", {})
            ax.axhline(0.0, color="0.6", lw=0.7)
            ax.plot(r, shifted, color="C0", lw=1.3)
            ax.set_ylim(*_curve_limits(shifted))
            ax.set_xlim(0.0, float(r.max()))
            ax.set_title(
                f"{name}  flips {m.get('force_flips', float('nan')):.0f}, "
                f"min {m.get('energy_minima', float('nan')):.0f}",
                fontsize=8,
            )
            ax.tick_params(labelsize=7)
        for ax in axes[-1]:
            ax.set_xlabel("r (Å)", fontsize=8)
        for ax in axes[:, 0]:
            ax.set_ylabel("E − E(farthest) (eV)", fontsize=8)
        fig.tight_layout()
        target = path if page == 0 else path.with_name(f"{path.stem}_{page + 1}{path.suffix}")
        written.append(_save(fig, target))
    return written


def _panel(ax, ref, pred, label: str, unit: str) -> None:
    ref = np.asarray(ref, dtype=float)
    pred = np.asarray(pred, dtype=float)
    ok = np.isfinite(ref) & np.isfinite(pred)
    ref, pred = ref[ok], pred[ok]
    ax.scatter(ref, pred, s=12 if ref.size < 200 else 4, alpha=0.6, color="C0", lw=0)
    if ref.size:
        lo = float(min(ref.min(), pred.min()))
        hi = float(max(ref.max(), pred.max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.4", lw=0.8)
        mae = float(np.abs(pred - ref).mean())
        text = f"MAE {mae:.3g} {unit}\nn = {ref.size}"
        ax.text(0.04, 0.93, text, transform=ax.transAxes, va="top", fontsize=8)
    ax.set_xlabel(f"reference {label} ({unit})", fontsize=8)
    ax.set_ylabel(f"predicted {label} ({unit})", fontsize=8)
    ax.tick_params(labelsize=7)


def plot_parity(
    panels: Sequence[tuple[str, str, Sequence[float], Sequence[float]]],
    path: str | Path,
    title: str = "",
) -> Path:
    """Parity plots side by side.

    Args:
        panels: ``(label, unit, reference, predicted)`` per panel.
        path: PNG file to write.
        title: Figure title.
    """
    if not panels:
        raise ValueError("plot_parity: no panels")
    fig = Figure(figsize=(3.6 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, unit, ref, pred) in zip(axes, panels, strict=True):
        _panel(ax, ref, pred, label, unit)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
