"""The on-disk formats of the external benchmarks: extxyz structures and reference tables.

Every external benchmark reads a directory that holds

- ``structures.extxyz``: every geometry, one frame each, identified by ``info`` keys
  (``system`` and ``role``, or ``name``), with optional ``charge`` and ``multiplicity``;
- a reference table, ``reference.csv`` (or a JSON file where a benchmark needs lists),
  whose energy columns name their unit: ``<quantity>_<unit>`` with the unit one of
  ``ev``, ``mev``, ``kcal_mol`` and ``kj_mol``.

The helpers here read those files and fail with a `BenchmarkDataError` that names
the file, the frame or row, and the key that is missing or wrong.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ase import Atoms
from ase.io import read

from ._units import ENERGY_UNITS

__all__ = [
    "REFERENCE",
    "STRUCTURES",
    "BenchmarkDataError",
    "charge_and_multiplicity",
    "energy_column",
    "frame",
    "frames_by_key",
    "load_structures",
    "read_csv",
    "read_frames",
    "read_json",
    "require_file",
]


class BenchmarkDataError(ValueError):
    """A benchmark's data files are missing, malformed or inconsistent."""


def require_file(root: str | Path, name: str, benchmark: str) -> Path:
    """The path of ``name`` under ``root``; raises if the file is not there."""
    root = Path(root)
    if not root.is_dir():
        raise BenchmarkDataError(f"{benchmark}: data directory {root} does not exist")
    path = root / name
    if not path.is_file():
        raise BenchmarkDataError(f"{benchmark}: missing file {path}")
    return path


def read_frames(path: str | Path, benchmark: str) -> list[Atoms]:
    """All frames of an extxyz file."""
    path = Path(path)
    try:
        frames = read(path, index=":", format="extxyz")
    except Exception as exc:  # ASE raises many types on a bad file
        raise BenchmarkDataError(f"{benchmark}: cannot read {path}: {exc}") from exc
    if not frames:
        raise BenchmarkDataError(f"{benchmark}: {path} holds no structures")
    return list(frames)


def frames_by_key(
    frames: Sequence[Atoms], keys: Sequence[str], path: str | Path, benchmark: str
) -> dict[tuple[str, ...], Atoms]:
    """Index frames by the string values of their ``info`` keys.

    Args:
        frames: The frames of ``path``.
        keys: The ``info`` keys that together identify a frame, e.g. ``("system", "role")``.
        path: The file the frames came from (for messages).
        benchmark: The benchmark name (for messages).

    Returns:
        ``{(value, ...): atoms}``; a key tuple of one element for a single key.
    """
    out: dict[tuple[str, ...], Atoms] = {}
    for i, atoms in enumerate(frames):
        missing = [k for k in keys if k not in atoms.info]
        if missing:
            raise BenchmarkDataError(
                f"{benchmark}: frame {i} of {path} has no info key(s) {missing} "
                f"(every frame needs {list(keys)})"
            )
        key = tuple(str(atoms.info[k]) for k in keys)
        if key in out:
            raise BenchmarkDataError(
                f"{benchmark}: frame {i} of {path} repeats {dict(zip(keys, key, strict=True))}"
            )
        out[key] = atoms
    return out


def charge_and_multiplicity(atoms: Atoms, where: str) -> tuple[int, int]:
    """Total charge and spin multiplicity from ``atoms.info``.

    ``info["charge"]`` defaults to 0; ``info["multiplicity"]`` (2S+1) defaults to 1 for an
    even number of electrons and 2 for an odd one.
    """
    try:
        charge = round(float(atoms.info.get("charge", 0)))
    except (TypeError, ValueError) as exc:
        raise BenchmarkDataError(f"{where}: info 'charge' is not a number") from exc
    electrons = int(atoms.numbers.sum()) - charge
    if "multiplicity" in atoms.info:
        try:
            multiplicity = round(float(atoms.info["multiplicity"]))
        except (TypeError, ValueError) as exc:
            raise BenchmarkDataError(f"{where}: info 'multiplicity' is not a number") from exc
        if multiplicity < 1 or (multiplicity - 1) % 2 != electrons % 2:
            raise BenchmarkDataError(
                f"{where}: multiplicity {multiplicity} does not fit {electrons} electrons"
            )
    else:
        multiplicity = 1 + electrons % 2
    return charge, multiplicity


def read_csv(path: str | Path, required: Iterable[str], benchmark: str) -> list[dict[str, str]]:
    """Rows of a CSV file with a header; every column in ``required`` must be present."""
    path = Path(path)
    with path.open(newline="") as handle:
        reader = csv.DictReader(row for row in handle if not row.lstrip().startswith("#"))
        header = [h.strip() for h in (reader.fieldnames or [])]
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    missing = [c for c in required if c not in header]
    if missing:
        raise BenchmarkDataError(f"{benchmark}: {path} has no column(s) {missing}")
    if not rows:
        raise BenchmarkDataError(f"{benchmark}: {path} has no rows")
    return rows


def energy_column(
    rows: Sequence[Mapping[str, str]], stem: str, path: str | Path, benchmark: str
) -> list[float]:
    """The values of the column ``<stem>_<unit>`` converted to eV.

    Exactly one such column must exist, with ``unit`` one of ``ev``, ``mev``, ``kcal_mol``
    and ``kj_mol``.
    """
    columns = [f"{stem}_{unit}" for unit in ENERGY_UNITS]
    present = [c for c in columns if c in rows[0]]
    if len(present) != 1:
        raise BenchmarkDataError(
            f"{benchmark}: {path} needs exactly one of the columns {columns}, found "
            f"{present or 'none'}"
        )
    column = present[0]
    factor = ENERGY_UNITS[column[len(stem) + 1 :]]
    values = []
    for i, row in enumerate(rows):
        try:
            values.append(float(row[column]) * factor)
        except (TypeError, ValueError) as exc:
            raise BenchmarkDataError(
                f"{benchmark}: {path} row {i + 2}: column {column!r} is not a number "
                f"({row[column]!r})"
            ) from exc
    return values


def read_json(path: str | Path, benchmark: str) -> Any:
    """Parsed JSON content of ``path``."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BenchmarkDataError(f"{benchmark}: {path} is not valid JSON: {exc}") from exc


STRUCTURES = "structures.extxyz"
REFERENCE = "reference.csv"


def load_structures(
    root: str | Path,
    benchmark: str,
    keys: Sequence[str] = ("system", "role"),
    aliases: Mapping[str, str] | None = None,
) -> tuple[dict[tuple[str, ...], Atoms], Path]:
    """Read ``root/structures.extxyz`` and index its frames by ``keys``.

    Each frame's charge and multiplicity (``info`` keys, see
    `charge_and_multiplicity`) are set where calculators read them.

    Args:
        root: The benchmark's data directory.
        benchmark: Benchmark name (for messages).
        keys: ``info`` keys that identify a frame.
        aliases: Optional renaming of the last key's values, e.g. ``{"host": "a"}``.

    Returns:
        ``({(value, ...): atoms}, path)``.
    """
    from ._evaluate import set_charge_and_multiplicity

    path = require_file(root, STRUCTURES, benchmark)
    table = frames_by_key(read_frames(path, benchmark), keys, path, benchmark)
    if aliases:
        renamed: dict[tuple[str, ...], Atoms] = {}
        for key, atoms in table.items():
            new = (*key[:-1], aliases.get(key[-1], key[-1]))
            if new in renamed:
                raise BenchmarkDataError(
                    f"{benchmark}: {path} repeats {dict(zip(keys, new, strict=True))}"
                )
            renamed[new] = atoms
        table = renamed
    for key, atoms in table.items():
        where = f"{benchmark}: {path} frame {dict(zip(keys, key, strict=True))}"
        set_charge_and_multiplicity(atoms, *charge_and_multiplicity(atoms, where))
    return table, path


def frame(
    table: Mapping[tuple[str, ...], Atoms],
    key: tuple[str, ...],
    keys: Sequence[str],
    path: str | Path,
    benchmark: str,
) -> Atoms:
    """The frame under ``key``; raises naming the file and the missing ``info`` values."""
    try:
        return table[key]
    except KeyError:
        raise BenchmarkDataError(
            f"{benchmark}: {path} has no frame with {dict(zip(keys, key, strict=True))}"
        ) from None
