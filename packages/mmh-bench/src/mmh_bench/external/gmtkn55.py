"""GMTKN55: main-group thermochemistry, kinetics and noncovalent interactions (§XI.B).

55 subsets of reaction energies ΔE = Σ ν_i E(species_i) against (mostly) CCSD(T)/CBS
references in kcal/mol (Goerigk et al., PCCP 19, 32184 (2017)), in five categories:
basic properties and reactions of small systems, reactions of large systems, barrier
heights, intramolecular and intermolecular noncovalent interactions
(`GMTKN55_GROUPS`).

Metrics, as the paper's Table IX: per category the WTMAD-2-weighted mean absolute error

    WMAE_g = Σ_{r ∈ g} w_s(r) |ΔE_r − ΔE_r^ref| / N_g,   w_s = 56.84 kcal/mol / |ΔE|‾_s,

where |ΔE|‾_s is the mean absolute reference energy of subset s (over all its reactions in
the reference file) and 56.84 kcal/mol the mean of those means over the whole database;
``overall_mae_kcal_mol`` is the same over all categories (WTMAD-2). Following the paper,
only reactions whose species are all neutral singlets are evaluated by default. Plain
(unweighted) MAEs are reported beside them.

Two data layouts are read (``root``):

1. mmh's layout: ``structures.extxyz`` with one frame per species, ``info``
   ``name=<subset>/<species>`` and ``charge``/``multiplicity`` where not 0 and 1;
   ``reactions.json``, a list of objects ``{"subset": "W4-11", "index": 1,
   "species": ["W4-11/h2", "W4-11/h"], "coefficients": [-1, 2],
   "reference_kcal_mol": 109.49}``.
2. The distribution of the GMTKN55 web site: one directory per subset holding one
   directory per species (a Turbomole ``coord`` file in bohr, optional ``.CHRG`` with
   the charge and ``.UHF`` with the number of unpaired electrons) and the subset's
   ``.res`` file, whose reaction lines read
   ``$tmer h2/$f h/$f x -1 2 $w 109.49`` (species with shell brace groups such as
   ``{E,P}2/$f``, the marker ``x``, one coefficient per species, ``$w`` and the
   reference); BH76RC's lines are ``BH76/.resRC`` over BH76's species, and a
   ``$w $name value`` line subtracts the reaction assigned to ``name=$( ... )`` (RSE43).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from ase.data import atomic_numbers
from ase.units import Bohr

from .._result import BenchmarkResult
from ._evaluate import set_charge_and_multiplicity
from ._io import (
    BenchmarkDataError,
    charge_and_multiplicity,
    frames_by_key,
    read_frames,
    read_json,
)
from ._reactions import EnergyDifference, Term, score_differences
from ._units import KCAL_MOL

__all__ = [
    "GMTKN55_GROUPS",
    "WTMAD2_MEAN_KCAL_MOL",
    "gmtkn55",
    "load_gmtkn55",
    "read_res",
    "read_turbomole_coord",
]

#: Mean of the subsets' mean absolute reference energies in the WTMAD-2 definition.
WTMAD2_MEAN_KCAL_MOL = 56.84

#: The category of each subset (Goerigk et al. 2017), as metric-key stems.
GMTKN55_GROUPS: dict[str, str] = {
    **dict.fromkeys(
        (
            "W4-11", "G21EA", "G21IP", "DIPCS10", "PA26", "SIE4x4", "ALKBDE10", "YBDE18",
            "AL2X6", "HEAVYSB11", "NBPRC", "ALK8", "RC21", "G2RC", "BH76RC", "FH51",
            "TAUT15", "DC13",
        ),
        "basic_small",
    ),
    **dict.fromkeys(
        ("MB16-43", "DARC", "RSE43", "BSR36", "CDIE20", "ISO34", "ISOL24", "C60ISO", "PArel"),
        "large_systems",
    ),
    **dict.fromkeys(
        ("BH76", "BHPERI", "BHDIV10", "INV24", "BHROT27", "PX13", "WCPT18"), "barrier_heights"
    ),
    **dict.fromkeys(
        (
            "RG18", "ADIM6", "S22", "S66", "HEAVY28", "WATER27", "CARBHB12", "PNICO23",
            "HAL59", "AHB21", "CHB6", "IL16",
        ),
        "inter_nc",
    ),
    **dict.fromkeys(
        (
            "IDISP", "ICONF", "ACONF", "Amino20x4", "PCONF21", "MCONF", "SCONF", "UPU23",
            "BUT14DIOL",
        ),
        "intra_nc",
    ),
}  # fmt: skip

_GROUP_ORDER = ("basic_small", "large_systems", "barrier_heights", "intra_nc", "inter_nc")
_REACTIONS = "reactions.json"
_STRUCTURES = "structures.extxyz"


# --------------------------------------------------------------------------- native files


def read_turbomole_coord(path: str | Path) -> Atoms:
    """Atoms of a Turbomole ``coord`` file (``$coord`` block, bohr, lower-case symbols)."""
    path = Path(path)
    symbols, positions, inside = [], [], False
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("$"):
            if inside:
                break
            fields = stripped.split()
            inside = fields[0] == "$coord"
            if inside and any(f.startswith("frac") for f in fields[1:]):
                raise BenchmarkDataError(f"gmtkn55: {path}: only Cartesian $coord is supported")
            continue
        if inside and stripped:
            fields = stripped.split()
            if len(fields) < 4:
                raise BenchmarkDataError(f"gmtkn55: {path}: bad $coord line {line!r}")
            symbol = fields[3].capitalize()
            if symbol not in atomic_numbers:
                raise BenchmarkDataError(f"gmtkn55: {path}: unknown element {fields[3]!r}")
            symbols.append(symbol)
            positions.append([float(x) * Bohr for x in fields[:3]])
    if not symbols:
        raise BenchmarkDataError(f"gmtkn55: {path} has no $coord block")
    return Atoms(symbols, positions)


def _read_int(path: Path, default: int) -> int:
    if not path.is_file():
        return default
    text = path.read_text().split()
    try:
        return int(text[0])
    except (IndexError, ValueError) as exc:
        raise BenchmarkDataError(f"gmtkn55: {path} does not hold an integer") from exc


def _expand_braces(token: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", token)
    if match is None:
        return [token]
    head, tail = token[: match.start()], token[match.end() :]
    return [x for alt in match.group(1).split(",") for x in _expand_braces(head + alt + tail)]


def _parse_terms(tokens: Sequence[str], where: str) -> tuple[list[tuple[int, str]], list[str]]:
    """Species/coefficient pairs of ``species... x coefficients... $w rest...``."""
    if "x" not in tokens or "$w" not in tokens:
        raise BenchmarkDataError(f"{where}: no 'x' or '$w' marker")
    ix, iw = tokens.index("x"), tokens.index("$w")
    species = []
    for token in tokens[:ix]:
        for name in _expand_braces(token):
            species.append(name[: -len("/$f")] if name.endswith("/$f") else name)
    try:
        coefficients = [int(t) for t in tokens[ix + 1 : iw]]
    except ValueError as exc:
        raise BenchmarkDataError(f"{where}: non-integer coefficient") from exc
    if len(coefficients) != len(species):
        raise BenchmarkDataError(
            f"{where}: {len(species)} species but {len(coefficients)} coefficients"
        )
    return list(zip(coefficients, species, strict=True)), list(tokens[iw + 1 :])


def read_res(path: str | Path) -> list[dict[str, Any]]:
    """Reactions of a GMTKN55 ``.res`` file.

    Returns:
        ``[{"index", "species", "coefficients", "reference_kcal_mol"}]`` in file order
        (``index`` counts from 1), species names as in the file (directory names).
    """
    path = Path(path)
    variables: dict[str, list[tuple[int, str]]] = {}
    out: list[dict[str, Any]] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        where = f"gmtkn55: {path} line {number}"
        assignment = re.match(r"^(\w+)=\$\(\s*(.*)\)\s*$", line)
        if assignment:
            inner = assignment.group(2).split("|", 1)[0].split()
            if inner and inner[0] in ("$tmer", "tmer2++"):
                variables[assignment.group(1)], _ = _parse_terms(inner[1:], where)
            continue
        tokens = line.split()
        if not tokens or tokens[0] not in ("$tmer", "tmer2++"):
            continue
        terms, rest = _parse_terms(tokens[1:], where)
        while rest and rest[0].startswith("$"):
            name = rest.pop(0)[1:]
            if name not in variables:
                raise BenchmarkDataError(f"{where}: ${name} is not defined before use")
            terms += [(-c, s) for c, s in variables[name]]
        try:
            reference = float(rest[0])
        except (IndexError, ValueError) as exc:
            raise BenchmarkDataError(f"{where}: no reference value after $w") from exc
        out.append(
            {
                "index": len(out) + 1,
                "species": [s for _, s in terms],
                "coefficients": [c for c, _ in terms],
                "reference_kcal_mol": reference,
            }
        )
    if not out:
        raise BenchmarkDataError(f"gmtkn55: {path} has no reaction lines")
    return out


def _species(directory: Path) -> Atoms:
    coord = directory / "coord"
    if not coord.is_file():
        raise BenchmarkDataError(f"gmtkn55: missing file {coord}")
    atoms = read_turbomole_coord(coord)
    charge = _read_int(directory / ".CHRG", 0)
    unpaired = _read_int(directory / ".UHF", -1)
    if unpaired < 0:
        unpaired = (int(atoms.numbers.sum()) - charge) % 2
    atoms.info["charge"] = charge
    atoms.info["multiplicity"] = unpaired + 1
    return atoms


def _read_native(root: Path) -> tuple[dict[str, Atoms], list[dict[str, Any]]]:
    structures: dict[str, Atoms] = {}
    reactions: list[dict[str, Any]] = []
    sources = [(d.name, d, d / ".res") for d in sorted(root.iterdir()) if (d / ".res").is_file()]
    if (root / "BH76" / ".resRC").is_file() and not (root / "BH76RC" / ".res").is_file():
        sources.append(("BH76RC", root / "BH76", root / "BH76" / ".resRC"))
    for subset, directory, res in sources:
        for reaction in read_res(res):
            names = []
            for species in reaction["species"]:
                key = f"{directory.name}/{species}"
                if key not in structures:
                    structures[key] = _species(directory / species)
                names.append(key)
            reactions.append({**reaction, "subset": subset, "species": names})
    return structures, reactions


# --------------------------------------------------------------------------- mmh layout


def _read_mmh(root: Path) -> tuple[dict[str, Atoms], list[dict[str, Any]]]:
    structures_path = root / _STRUCTURES
    if not structures_path.is_file():
        raise BenchmarkDataError(f"gmtkn55: missing file {structures_path}")
    frames = frames_by_key(
        read_frames(structures_path, "gmtkn55"), ("name",), structures_path, "gmtkn55"
    )
    structures = {key[0]: atoms for key, atoms in frames.items()}
    reactions = read_json(root / _REACTIONS, "gmtkn55")
    if not isinstance(reactions, list):
        raise BenchmarkDataError(f"gmtkn55: {root / _REACTIONS} must hold a JSON list")
    return structures, reactions


def load_gmtkn55(root: str | Path) -> list[EnergyDifference]:
    """Read GMTKN55 from either data layout (see the module docstring).

    Returns:
        One `EnergyDifference` per reaction, named ``<subset>/<index>``, with
        ``group`` the subset and ``meta["category"]`` its category.
    """
    root = Path(root)
    if not root.is_dir():
        raise BenchmarkDataError(f"gmtkn55: data directory {root} does not exist")
    if (root / _REACTIONS).is_file():
        structures, reactions = _read_mmh(root)
        source = root / _REACTIONS
    elif any((d / ".res").is_file() for d in root.iterdir() if d.is_dir()):
        structures, reactions = _read_native(root)
        source = root
    else:
        raise BenchmarkDataError(
            f"gmtkn55: {root} holds neither {_REACTIONS} nor subset directories with .res files"
        )
    for name, atoms in structures.items():
        where = f"gmtkn55: species {name!r}"
        set_charge_and_multiplicity(atoms, *charge_and_multiplicity(atoms, where))
    out = []
    for i, reaction in enumerate(reactions):
        where = f"gmtkn55: {source} reaction {i + 1}"
        missing = [
            k
            for k in ("subset", "species", "coefficients", "reference_kcal_mol")
            if k not in reaction
        ]
        if missing:
            raise BenchmarkDataError(f"{where} has no key(s) {missing}")
        subset = str(reaction["subset"])
        category = reaction.get("group") or GMTKN55_GROUPS.get(subset)
        if category not in _GROUP_ORDER:
            raise BenchmarkDataError(
                f"{where}: subset {subset!r} has no category; give 'group', one of {_GROUP_ORDER}"
            )
        species, coefficients = list(reaction["species"]), list(reaction["coefficients"])
        if len(species) != len(coefficients) or not species:
            raise BenchmarkDataError(f"{where}: species and coefficients differ in length")
        unknown = [s for s in species if s not in structures]
        if unknown:
            raise BenchmarkDataError(f"{where}: no structure named {unknown}")
        index = reaction.get("index", i + 1)
        difference = EnergyDifference(
            name=f"{subset}/{index}",
            terms=tuple(
                Term(float(c), s, structures[s]) for c, s in zip(coefficients, species, strict=True)
            ),
            reference_ev=float(reaction["reference_kcal_mol"]) * KCAL_MOL,
            group=subset,
            meta={"category": category},
        )
        unbalanced = difference.stoichiometry_balance()
        if unbalanced:
            raise BenchmarkDataError(
                f"{where} ({difference.name}) is not balanced: {dict(unbalanced)}"
            )
        out.append(difference)
    return out


# --------------------------------------------------------------------------- scoring


def wtmad2_weights(
    differences: Sequence[EnergyDifference], mean_kcal_mol: float = WTMAD2_MEAN_KCAL_MOL
) -> dict[str, float]:
    """WTMAD-2 weight of each subset: ``mean_kcal_mol / mean |reference|`` of the subset."""
    by_subset: dict[str, list[float]] = {}
    for d in differences:
        by_subset.setdefault(d.group, []).append(abs(d.reference_ev) / KCAL_MOL)
    return {s: mean_kcal_mol / float(np.mean(v)) for s, v in by_subset.items()}


def _category_metrics(
    differences: Sequence[EnergyDifference],
    predicted: Sequence[float],
    weights: Mapping[str, float],
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    metrics: dict[str, float] = {}
    rows = [
        (d.meta["category"], d.group, abs(p - d.reference_ev) / KCAL_MOL)
        for d, p in zip(differences, predicted, strict=True)
        if math.isfinite(p)
    ]
    for category in (*_GROUP_ORDER, "overall"):
        chosen = [(s, e) for c, s, e in rows if category in ("overall", c)]
        weighted = float(np.mean([weights[s] * e for s, e in chosen])) if chosen else math.nan
        plain = float(np.mean([e for _, e in chosen])) if chosen else math.nan
        metrics[f"{category}_mae_kcal_mol"] = weighted
        metrics[f"{category}_unweighted_mae_kcal_mol"] = plain
        metrics[f"{category}_n_reactions"] = float(len(chosen))
    subsets: dict[str, dict[str, float]] = {}
    for _, s, e in rows:
        subsets.setdefault(s, {"n": 0, "mad": 0.0})
        subsets[s]["n"] += 1
        subsets[s]["mad"] += e
    for s, entry in subsets.items():
        entry["mad"] /= entry["n"]
        entry["weight"] = weights[s]
    return metrics, subsets


def gmtkn55(
    calculator: BaseCalculator,
    root: str | Path,
    *,
    neutral_singlet_only: bool = True,
    subsets: Sequence[str] | None = None,
    on_error: str = "raise",
) -> BenchmarkResult:
    """GMTKN55 reaction energies against the references in ``root``.

    Args:
        calculator: Any ASE calculator.
        root: The data directory (either layout).
        neutral_singlet_only: Evaluate only reactions whose species are all neutral
            singlets (the paper's choice); the others are listed in ``data["excluded"]``.
            WTMAD-2 weights always use every reaction of a subset.
        subsets: Evaluate only these subsets (all by default).
        on_error: ``"raise"`` or ``"skip"``.

    Returns:
        ``BenchmarkResult("gmtkn55", "molecules")`` with the WTMAD-2-weighted
        ``basic_small_mae_kcal_mol``, ``large_systems_mae_kcal_mol``,
        ``barrier_heights_mae_kcal_mol``, ``intra_nc_mae_kcal_mol``,
        ``inter_nc_mae_kcal_mol`` and ``overall_mae_kcal_mol`` (WTMAD-2), their
        ``*_unweighted_mae_kcal_mol`` and ``*_n_reactions``, and the plain error statistics
        over all evaluated reactions (``mae_kcal_mol``, ...). ``data["subsets"]`` holds each
        subset's MAD, count and weight.
    """
    differences = load_gmtkn55(root)
    weights = wtmad2_weights(differences)
    if subsets is not None:
        unknown = sorted(set(subsets) - {d.group for d in differences})
        if unknown:
            raise BenchmarkDataError(f"gmtkn55: {root} has no subset(s) {unknown}")
        differences = [d for d in differences if d.group in set(subsets)]
    kept = [d for d in differences if d.neutral_closed_shell or not neutral_singlet_only]
    excluded = [d.name for d in differences if d not in kept]
    result, predicted = score_differences(
        "gmtkn55",
        "molecules",
        calculator,
        kept,
        on_error=on_error,
        excluded=excluded,
        data={"quantity": "reaction energy", "neutral_singlet_only": neutral_singlet_only},
    )
    metrics, per_subset = _category_metrics(kept, predicted, weights)
    result.data.pop("group_mae", None)
    result.data["subsets"] = per_subset
    result.data["category"] = [
        d.meta["category"] for d, p in zip(kept, predicted, strict=True) if math.isfinite(p)
    ]
    result.metrics.update(metrics)
    for key in metrics:
        result.units[key] = "count" if key.endswith("_n_reactions") else "kcal/mol"
    return result
