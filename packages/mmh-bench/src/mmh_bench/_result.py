"""The result of one benchmark: metrics, their units and the raw data behind them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DOMAINS", "BenchmarkResult"]

#: Domains of the paper's score (§VI) plus the two that are reported but not scored.
DOMAINS = (
    "materials",
    "molecular_crystals",
    "surfaces",
    "molecules",
    "physicality",
    "speed",
    "in_domain",
)


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


@dataclass
class BenchmarkResult:
    """What one benchmark found for one calculator.

    Attributes:
        name: Benchmark name, e.g. ``"s22"`` or ``"slab_extensivity"``.
        domain: One of [`DOMAINS`][mmh_bench.DOMAINS].
        metrics: Scalar figures by key, e.g. ``{"mae_kcal_mol": 0.9}``.
        units: Unit of each metric key.
        data: Raw, JSON-serialisable data behind the metrics (per-system values,
            curves, references), for reports and plots.
        calculator: A description of the calculator that was benchmarked.
    """

    name: str
    domain: str
    metrics: dict[str, float]
    units: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    calculator: str = ""

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"unknown domain {self.domain!r}; use one of {DOMAINS}")
        missing = sorted(set(self.metrics) - set(self.units))
        if missing:
            raise ValueError(f"benchmark {self.name!r}: no unit for metric(s) {missing}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (read back by [`from_dict`][mmh_bench.BenchmarkResult.from_dict])."""
        return {
            "name": self.name,
            "domain": self.domain,
            "metrics": _plain(self.metrics),
            "units": dict(self.units),
            "data": _plain(self.data),
            "calculator": self.calculator,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchmarkResult:
        """Rebuild from [`to_dict`][mmh_bench.BenchmarkResult.to_dict] output."""
        metrics = {k: (float("nan") if v is None else float(v)) for k, v in data["metrics"].items()}
        return cls(
            name=data["name"],
            domain=data["domain"],
            metrics=metrics,
            units=dict(data.get("units", {})),
            data=dict(data.get("data", {})),
            calculator=data.get("calculator", ""),
        )

    def save(self, path: str | Path) -> Path:
        """Write the JSON form to ``path``."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path
