"""Per-head error metrics: energy per atom, force components and stress components."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from mmh_data import Batch

__all__ = ["ErrorAccumulator", "format_metrics"]

# one row per property: sum |r|, sum r², count
_PROPERTIES = ("energy", "forces", "stress")


class ErrorAccumulator:
    """Sums of absolute and squared errors of one head, reducible across processes.

    Energies are compared per atom; forces and stress per component. Only structures that
    carry the label (property weight ≠ 0) count; config weights do not change the metrics.
    """

    def __init__(self, dtype: torch.dtype = torch.float64) -> None:
        self.sums = torch.zeros(len(_PROPERTIES), 3, dtype=dtype)

    def update(self, batch: Batch, output: Mapping[str, torch.Tensor]) -> None:
        """Add the errors of a batch (all graphs are taken to belong to this head)."""
        n = batch.num_atoms.to(torch.float64)
        rows = []
        has_e = batch.energy_weight != 0
        r = (output["energy"].detach().double() - batch.energy.double()) / n
        rows.append(self._row(r[has_e]))
        if "forces" in output:
            has_f = (batch.forces_weight != 0)[batch.batch]
            r = output["forces"].detach().double() - batch.forces.double()
            rows.append(self._row(r[has_f]))
        else:
            rows.append(torch.zeros(3, dtype=torch.float64))
        if "stress" in output:
            has_s = batch.stress_weight != 0
            r = output["stress"].detach().double() - batch.stress.double()
            rows.append(self._row(r[has_s]))
        else:
            rows.append(torch.zeros(3, dtype=torch.float64))
        self.sums += torch.stack(rows).to(self.sums.dtype).cpu()

    @staticmethod
    def _row(r: torch.Tensor) -> torch.Tensor:
        r = r.reshape(-1)
        return torch.stack(
            [r.abs().sum(), (r * r).sum(), torch.tensor(float(r.numel()), dtype=r.dtype)]
        ).cpu()

    def tensor(self) -> torch.Tensor:
        """The sums as one tensor (for ``all_reduce``)."""
        return self.sums

    def metrics(self) -> dict[str, float]:
        """MAE and RMSE: ``energy_*`` in meV/atom, ``forces_*`` in meV/Å, ``stress_*`` in
        meV/Å³; properties without any label are left out."""
        out = {}
        for k, name in enumerate(_PROPERTIES):
            abs_sum, sq_sum, count = (float(v) for v in self.sums[k])
            if count > 0:
                out[f"{name}_mae"] = 1000 * abs_sum / count
                out[f"{name}_rmse"] = 1000 * math.sqrt(sq_sum / count)
        return out


UNITS = {"energy": "meV/atom", "forces": "meV/Å", "stress": "meV/Å³"}


def format_metrics(per_head: Mapping[str, Mapping[str, float]], title: str = "") -> str:
    """A plain-text table of per-head metrics."""
    lines = []
    if title:
        lines.append(title)
    header = f"{'head':<14}" + "".join(
        f"{p + ' MAE':>16}{p + ' RMSE':>16}" for p in ("E", "F", "S")
    )
    lines.append(header)
    lines.append(" " * 14 + "".join(f"{'[' + UNITS[p] + ']':>32}" for p in _PROPERTIES))
    for head, m in per_head.items():
        row = f"{head:<14}"
        for p in _PROPERTIES:
            for kind in ("mae", "rmse"):
                v = m.get(f"{p}_{kind}")
                row += f"{v:>16.2f}" if v is not None else f"{'—':>16}"
        lines.append(row)
    return "\n".join(lines)
