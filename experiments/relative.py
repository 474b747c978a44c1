"""Relative energies of the grid's models: interaction energies of the ``mol`` dimers and
adsorption energies of the ``surf`` systems, against their tblite references.

- **Interaction energies** ``E(AB) - E(A) - E(B)`` of the dimer frames of the ``mol``
  ``test`` and ``ood`` splits (monomers at their geometry in the dimer), by the head that
  models ``mol``. The baseline predicts no interaction (0).
- **Adsorption energies** of the adsorption set (``mmh_data.datasets.load_adsorption``:
  relaxed slabs with and without adsorbates, and the H2, H2O and CO gas references), by
  the head that models ``surf``. The full adsorption energy needs the head's gas-phase
  energies, which no ``surf`` training structure contains; the MAE *centred per
  adsorbate* removes them (it compares the trends across surfaces). Its baseline predicts
  each adsorbate's mean reference adsorption energy on every surface. Systems whose
  family is in ``surf`` training are in-distribution (``id``), the others ``ood``.

Skill is ``1 - MAE / MAE of the baseline``. All energies are meV (per dimer, per
adsorbate).

Usage (adds ``relative`` to each cell JSON that lacks it, from the models in ``--work``)::

    uv run python experiments/relative.py --work runs/grid
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from mmh_data import datasets as bundled

HERE = Path(__file__).resolve().parent
#: The head of each model kind that models molecules / surfaces.
MOL_HEADS, SURF_HEADS = ("mol", "pooled"), ("surf", "pooled")


class Energies:
    """Energies (eV) of ``ase.Atoms`` by one head of a model, in batches, float64, without
    forces (a relative energy needs none)."""

    def __init__(self, model, head: str, batch_size: int = 32):
        """``model``: a model file, or a loaded model (moved to float64)."""
        from mmh_data import GraphBuilder
        from mmh_heads import load_model

        if isinstance(model, (str, Path)):
            model = load_model(model)
        self.model = model.to(torch.float64)
        self.head, self.batch_size = head, batch_size
        r_max = self.model.backbone.config.r_max
        self.builder = GraphBuilder(r_max, heads=self.model.heads, dtype=torch.float64)

    def __call__(self, frames: list) -> np.ndarray:
        from mmh_data import Configuration, collate

        graphs = [
            self.builder(
                Configuration(
                    atomic_numbers=a.numbers.copy(),
                    positions=np.array(a.positions, dtype=float),
                    cell=np.array(a.cell[:], dtype=float),
                    pbc=np.array(a.pbc, dtype=bool),
                    head=self.head,
                )
            )
            for a in frames
        ]
        out = []
        with torch.no_grad():
            for start in range(0, len(graphs), self.batch_size):
                batch = collate(graphs[start : start + self.batch_size])
                result = self.model(batch, compute_forces=False, compute_stress=False)
                out += result["energy"].tolist()
        return np.array(out)


def _skill(mae: float, baseline: float) -> float:
    return 1.0 - mae / baseline if baseline > 0 else float("nan")


def interaction_metrics(energies, split: str) -> dict:
    """Interaction-energy errors (meV per dimer) on the dimers of a ``mol`` split;
    ``energies`` maps a list of ``ase.Atoms`` to their energies (eV), e.g. `Energies`."""
    frames = [a for a in bundled.load_atoms("mol", split) if "REF_interaction_energy" in a.info]
    parts = [bundled.split_dimer(a, a.info["family"]) for a in frames]
    predicted = energies(frames) - energies([p[0] for p in parts]) - energies([p[1] for p in parts])
    reference = np.array([a.info["REF_interaction_energy"] for a in frames])
    error = 1e3 * np.abs(predicted - reference)
    baseline = 1e3 * np.abs(np.array(reference))
    return {
        "mae": float(error.mean()),
        "baseline_mae": float(baseline.mean()),
        "skill": _skill(float(error.mean()), float(baseline.mean())),
        "dimers": len(frames),
    }


def _centred(values: dict[str, float]) -> dict[str, float]:
    """Adsorption energies minus the mean of their adsorbate over the surfaces."""
    by_adsorbate: dict[str, list[float]] = {}
    for family, value in values.items():
        by_adsorbate.setdefault(family.split("+", 1)[1], []).append(value)
    means = {k: float(np.mean(v)) for k, v in by_adsorbate.items()}
    return {f: v - means[f.split("+", 1)[1]] for f, v in values.items()}


def adsorption_metrics(energies) -> dict:
    """Adsorption-energy errors (meV per adsorbate) on the adsorption set; ``energies`` as
    in `interaction_metrics`."""
    frames = bundled.load_adsorption()
    totals = dict(zip([a.info["family"] for a in frames], energies(frames), strict=True))
    predicted = bundled.adsorption_energies(totals)
    reference = bundled.metadata("surf")["relative"]["adsorption"]["adsorption_energies"]
    train = set(bundled.metadata("surf")["splits"]["train"]["families"])
    systems = sorted(reference)
    pred_c, ref_c = _centred({f: predicted[f] for f in systems}), _centred(reference)
    out = {}
    for part, chosen in (
        ("all", systems),
        ("id", [f for f in systems if f in train]),
        ("ood", [f for f in systems if f not in train]),
    ):
        if not chosen:
            continue
        full = 1e3 * np.mean([abs(predicted[f] - reference[f]) for f in chosen])
        centred = 1e3 * np.mean([abs(pred_c[f] - ref_c[f]) for f in chosen])
        baseline = 1e3 * np.mean([abs(ref_c[f]) for f in chosen])
        out[part] = {
            "mae": float(full),
            "centred_mae": float(centred),
            "baseline_centred_mae": float(baseline),
            "centred_skill": _skill(float(centred), float(baseline)),
            "systems": len(chosen),
        }
    return out


def relative_energies(model_file: Path) -> dict:
    """Every relative-energy metric of the heads of one model that model ``mol`` or
    ``surf`` (``{"<head> interaction <split>": ..., "<head> adsorption": ...}``)."""
    from mmh_heads import load_model

    model = load_model(model_file)
    out: dict[str, dict] = {}
    for head in model.heads:
        energies = Energies(model, head)
        if head in MOL_HEADS:
            for split in ("test", "ood"):
                out[f"{head} interaction {split}"] = interaction_metrics(energies, split)
        if head in SURF_HEADS:
            out[f"{head} adsorption"] = adsorption_metrics(energies)
    return out


def trained_here(cell: dict, work: Path) -> bool:
    """Whether the run directory of a cell in ``work`` holds the model the cell's JSON
    describes: the same steps and best step and, for a fine-tuning, a parent pre-trained
    for the budget's steps (a work directory may hold a longer run of the same name)."""
    done = work / cell["cell"] / "results.json"
    if not done.exists():
        return False
    trained = json.loads(done.read_text())
    if (trained["steps"], trained["best_step"]) != (
        cell["training"]["steps"],
        cell["training"]["best_step"],
    ):
        return False
    parent = cell.get("pretrained")
    if parent is None:
        return True
    parent_done = work / parent / "results.json"
    return (
        parent_done.exists()
        and json.loads(parent_done.read_text())["steps"] == cell["budget"]["pretrain_steps"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=Path, default=HERE / "results" / "claims")
    parser.add_argument("--work", type=Path, default=Path("runs/grid"))
    parser.add_argument("--again", action="store_true", help="recompute existing entries")
    args = parser.parse_args()
    for path in sorted(args.cells.rglob("*.json")):
        cell = json.loads(path.read_text())
        model = args.work / cell["cell"] / "model.safetensors"
        if ("relative" in cell and not args.again) or not model.exists():
            continue
        if not set(cell.get("heads", [])) & {*MOL_HEADS, *SURF_HEADS}:
            continue
        if not trained_here(cell, args.work):
            print(f"{cell['cell']} ({path.parent.name}): {args.work} holds another run; skipped")
            continue
        cell["relative"] = relative_energies(model)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(cell, indent=1, sort_keys=False) + "\n")
        tmp.replace(path)
        print(f"{cell['cell']}: {', '.join(sorted(cell['relative']))}")


if __name__ == "__main__":
    main()
