"""The elements a calculator can evaluate, and the element pairs of the diatomic curves."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from ase.data import atomic_numbers, chemical_symbols

__all__ = [
    "EMT_ELEMENTS",
    "calculator_elements",
    "describe_calculator",
    "element_pairs",
    "normalise_elements",
    "parse_pairs",
]

#: The elements of ASE's EMT parameter table, the default of the EMT calculator.
EMT_ELEMENTS = ("H", "C", "N", "O", "Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au")


def _symbol(element: str | int) -> str:
    if isinstance(element, str):
        name = element.strip()
        if name not in atomic_numbers or name == "X":
            raise ValueError(f"unknown element symbol {element!r}")
        return name
    z = int(element)
    if not 0 < z < len(chemical_symbols):
        raise ValueError(f"unknown atomic number {element!r}")
    return chemical_symbols[z]


def normalise_elements(elements: Iterable[str | int]) -> list[str]:
    """Element symbols from symbols or atomic numbers, without duplicates, ordered by Z.

    Raises:
        ValueError: For an unknown symbol or atomic number.
    """
    symbols = {_symbol(e) for e in elements}
    return sorted(symbols, key=lambda s: atomic_numbers[s])


def calculator_elements(calc: Any) -> list[str] | None:
    """The elements ``calc`` can evaluate, or ``None`` when it does not say.

    A calculator exposes its elements by an ``elements`` attribute (symbols or atomic
    numbers), or by a ``model`` attribute that has one (the mmh calculator's model and its
    element table). ASE's EMT is recognised and gets its parameter table. Anything else
    returns ``None``.
    """
    elements = getattr(calc, "elements", None)
    if elements is None:
        elements = getattr(getattr(calc, "model", None), "elements", None)
    if elements is not None:
        return normalise_elements(elements)
    from ase.calculators.emt import EMT

    if isinstance(calc, EMT):
        return normalise_elements(EMT_ELEMENTS)
    return None


def element_pairs(
    elements: Iterable[str | int], heteronuclear: bool = True
) -> list[tuple[str, str]]:
    """All homonuclear pairs, then (optionally) all heteronuclear pairs of ``elements``.

    Pairs are ordered by atomic number inside and across pairs, e.g. ``H-H, C-C, H-C``.
    """
    symbols = normalise_elements(elements)
    pairs = [(s, s) for s in symbols]
    if heteronuclear:
        pairs += list(itertools.combinations(symbols, 2))
    return pairs


def parse_pairs(pairs: Sequence[str | tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs from ``"A-B"`` strings or tuples, each checked and ordered by atomic number."""
    out = []
    for pair in pairs:
        parts = pair.split("-") if isinstance(pair, str) else list(pair)
        if len(parts) != 2:
            raise ValueError(f"a pair is two elements like 'H-O', got {pair!r}")
        a, b = (_symbol(p) for p in parts)
        out.append((a, b) if atomic_numbers[a] <= atomic_numbers[b] else (b, a))
    return out


def describe_calculator(calc: Any) -> str:
    """A short description of a calculator: its ``description`` attribute if it has one,
    else its ASE ``name``, else its class name."""
    for attr in ("description", "name"):
        value = getattr(calc, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(calc).__name__
