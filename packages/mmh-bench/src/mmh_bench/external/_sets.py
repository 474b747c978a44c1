"""Generic readers of the data layouts several external benchmarks share."""

from __future__ import annotations

from pathlib import Path

from ._io import (
    REFERENCE,
    BenchmarkDataError,
    energy_column,
    frame,
    load_structures,
    read_csv,
    require_file,
)
from ._reactions import EnergyDifference, Term

__all__ = ["load_three_body"]

_KEYS = ("system", "role")


def load_three_body(
    root: str | Path,
    benchmark: str,
    roles: tuple[str, str, str],
    stem: str,
    aliases: dict[str, str] | None = None,
    group_column: str = "category",
) -> list[EnergyDifference]:
    """``E(roles[0]) − E(roles[1]) − E(roles[2])`` per system of a data directory.

    Args:
        root: The data directory.
        benchmark: Benchmark name (for messages).
        roles: The whole system's role and the two parts' roles.
        stem: Reference column stem (``<stem>_<unit>``).
        aliases: Other accepted names of the roles.
        group_column: Optional reference column with a category per system.
    """
    table, path = load_structures(root, benchmark, _KEYS, aliases)
    ref_path = require_file(root, REFERENCE, benchmark)
    rows = read_csv(ref_path, ["system"], benchmark)
    values = energy_column(rows, stem, ref_path, benchmark)
    out = []
    for row, value in zip(rows, values, strict=True):
        system = row["system"]
        whole, part_a, part_b = (
            frame(table, (system, role), _KEYS, path, benchmark) for role in roles
        )
        if sorted(whole.get_chemical_symbols()) != sorted(
            part_a.get_chemical_symbols() + part_b.get_chemical_symbols()
        ):
            raise BenchmarkDataError(
                f"{benchmark}: {path}: the {roles[0]} of {system!r} "
                f"({whole.get_chemical_formula()}) is not its {roles[1]} plus its {roles[2]} "
                f"({part_a.get_chemical_formula()} + {part_b.get_chemical_formula()})"
            )
        out.append(
            EnergyDifference(
                name=system,
                terms=(
                    Term(1.0, f"{system}/{roles[0]}", whole),
                    Term(-1.0, f"{system}/{roles[1]}", part_a),
                    Term(-1.0, f"{system}/{roles[2]}", part_b),
                ),
                reference_ev=value,
                group=row.get(group_column, ""),
            )
        )
    return out
