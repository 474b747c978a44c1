"""Error metrics of predicted against reference labels: the one definition that training
(validation and test errors) and the benchmarks (in-domain errors) both use. It covers every
label of the field table [`LABELS`][mmh_data.LABELS]:

- energy: per atom, ``(E_pred − E_ref) / N`` for each structure;
- forces: per Cartesian component, ``3N`` values per structure;
- stress: per component of the 3×3 tensor, 9 values per structure (as mace-torch), whatever
  form the label came in (Voigt 6, 9 values, 3×3).

MAE and RMSE are reported in meV/atom, meV/Å and meV/Å³ under the names ``energy_mae``,
``energy_rmse``, ``forces_mae``, ... Only structures that carry a label count, and
configuration weights do not change the metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch

from ._batch import Batch
from ._fields import LABEL_NAMES, LABELS, LabelField, label_field

__all__ = ["METRIC_PROPERTIES", "METRIC_UNITS", "ErrorAccumulator", "format_metrics"]

#: the properties, in the order of the accumulator's rows: the labels of the field table
METRIC_PROPERTIES = LABEL_NAMES
_PROPERTIES = METRIC_PROPERTIES


def _in_memory(field: LabelField, value: object, num_atoms: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 1 and field.shape != ():
        return np.broadcast_to(arr.reshape(()), field.value_shape(num_atoms))
    return np.asarray(field.parse(arr, num_atoms), dtype=np.float64)


class ErrorAccumulator:
    """Sums of absolute and squared errors of one head, reducible across processes.

    Energies are compared per atom; forces and stress per component (stress as the 3×3
    tensor). Feed it batches (`update`, in training) or plain arrays of one structure
    (`add_structure`, in the benchmarks); both give the same numbers for the same
    predictions.

    Example:
        >>> acc = ErrorAccumulator()
        >>> acc.add_structure(2, energy=(1.02, 1.0), forces=([[0.1, 0, 0], [0, 0, 0]], 0))
        >>> round(acc.metrics()["energy_mae"], 6), round(acc.metrics()["forces_mae"], 6)
        (10.0, 16.666667)
    """

    def __init__(self, dtype: torch.dtype = torch.float64) -> None:
        self.sums = torch.zeros(len(_PROPERTIES), 3, dtype=dtype)

    def add_structure(self, num_atoms: int, **pairs: tuple[object, object] | None) -> None:
        """Add one structure's ``(predicted, reference)`` pairs, one keyword per label of
        [`LABELS`][mmh_data.LABELS] (``energy=``, ``forces=``, ``stress=``; eV, eV/Å,
        eV/Å³); a label left out (or ``None``) does not count. Stress may be Voigt 6, 9
        values or 3×3; a single number stands for every component.

        Raises:
            KeyError: A keyword that is not a label.
        """
        for name in pairs:
            label_field(name)
        rows = []
        for field in LABELS:
            pair = pairs.get(field.name)
            if pair is None:
                rows.append(torch.zeros(3, dtype=torch.float64))
                continue
            pred, ref = (_in_memory(field, x, num_atoms) for x in pair)
            r = np.asarray(pred - ref, dtype=np.float64)
            if field.per_atom_metric:
                r = r / num_atoms
            rows.append(self._row(torch.from_numpy(np.array(r, dtype=np.float64).reshape(-1))))
        self.sums += torch.stack(rows).to(self.sums.dtype)

    def update(self, batch: Batch, output: Mapping[str, torch.Tensor]) -> None:
        """Add the errors of a batch (all graphs are taken to belong to this head); a label
        the output lacks does not count."""
        n = batch.num_atoms.to(torch.float64)
        rows = []
        for field in LABELS:
            if field.name not in output:
                rows.append(torch.zeros(3, dtype=torch.float64))
                continue
            pred = output[field.name].detach().double()
            has = getattr(batch, field.weight_name) != 0
            if field.per_atom:
                has = has[batch.batch]
            r = pred - getattr(batch, field.name).double().reshape(pred.shape)
            if field.per_atom_metric:
                r = r / n
            rows.append(self._row(r[has]))
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


#: the unit of each property's MAE and RMSE
METRIC_UNITS = {f.name: f.metric_unit for f in LABELS}


def format_metrics(per_head: Mapping[str, Mapping[str, float]], title: str = "") -> str:
    """A plain-text table of per-head metrics."""
    lines = []
    if title:
        lines.append(title)
    header = f"{'head':<14}" + "".join(
        f"{p[0].upper() + ' MAE':>16}{p[0].upper() + ' RMSE':>16}" for p in _PROPERTIES
    )
    lines.append(header)
    lines.append(" " * 14 + "".join(f"{'[' + METRIC_UNITS[p] + ']':>32}" for p in _PROPERTIES))
    for head, m in per_head.items():
        row = f"{head:<14}"
        for p in _PROPERTIES:
            for kind in ("mae", "rmse"):
                v = m.get(f"{p}_{kind}")
                row += f"{v:>16.2f}" if v is not None else f"{'—':>16}"
        lines.append(row)
    return "\n".join(lines)
