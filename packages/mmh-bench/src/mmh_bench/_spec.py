"""Calculators named by an import path: ``module:Factory?key=value&key=value``.

Any ASE calculator importable in the environment (mace-torch, SevenNet, fairchem, a class
of one's own) can be benchmarked from the command line this way, beside the built-in names.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

__all__ = ["CalculatorSpec", "CalculatorSpecError", "calculator_from_spec", "parse_spec"]

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_WORDS = {"true": True, "false": False, "none": None, "null": None}


class CalculatorSpecError(ValueError):
    """A calculator spec that cannot be parsed, imported, called, or that does not give an
    ASE calculator. The message names the spec and the part at fault."""


@dataclass(frozen=True)
class CalculatorSpec:
    """A parsed ``module:Factory?key=value`` spec.

    Attributes:
        module: Dotted module path (``ase.calculators.emt``).
        factory: Dotted attribute path inside the module (``EMT``, or ``Class.method``).
        kwargs: Keyword arguments of the call, values parsed by `parse_value`.
    """

    module: str
    factory: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.module}:{self.factory}({args})"


def parse_value(text: str) -> Any:
    """A spec value: ``true``/``false``/``none``, an integer, a number, else the string
    itself (percent-escapes decoded, so ``%26`` is ``&``)."""
    text = unquote(text)
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        if kind is float and not math.isfinite(value):
            break
        return value
    return text


def parse_spec(spec: str) -> CalculatorSpec:
    """Split ``module:Factory?key=value&key=value`` into its parts.

    Raises:
        CalculatorSpecError: Not of that form (the message shows the form and an example).
    """
    example = "e.g. ase.calculators.emt:EMT or mace.calculators:mace_mp?model=small&device=cpu"
    target, _, query = spec.partition("?")
    module, sep, factory = target.partition(":")
    if not sep or not _DOTTED.match(module) or not _DOTTED.match(factory):
        raise CalculatorSpecError(
            f"calculator {spec!r}: expected module:Factory?key=value&... ({example})"
        )
    kwargs: dict[str, Any] = {}
    for item in query.split("&") if query else []:
        key, eq, value = item.partition("=")
        if not eq or not key.isidentifier():
            raise CalculatorSpecError(
                f"calculator {spec!r}: argument {item!r} is not key=value ({example})"
            )
        if key in kwargs:
            raise CalculatorSpecError(f"calculator {spec!r}: argument {key!r} given twice")
        kwargs[key] = parse_value(value)
    return CalculatorSpec(module, factory, kwargs)


def calculator_from_spec(spec: str | CalculatorSpec) -> Any:
    """Import ``module``, look up ``Factory`` and call it with the spec's keyword arguments.

    The result must be an ASE calculator (it has ``get_potential_energy`` and
    ``calculate``, as every `ase.calculators.calculator.BaseCalculator` does). It
    gets a ``description`` (the spec) for reports, unless it has one already.

    Args:
        spec: ``"module:Factory?key=value&key=value"`` or a
            [`CalculatorSpec`][mmh_bench.CalculatorSpec].

    Returns:
        The calculator.

    Raises:
        CalculatorSpecError: Bad form, module or attribute not found, the call failed, or
            it did not return a calculator.

    Example:
        >>> calc = calculator_from_spec("ase.calculators.emt:EMT")
        >>> type(calc).__name__
        'EMT'
    """
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    text = spec if isinstance(spec, str) else str(spec)
    try:
        module = importlib.import_module(parsed.module)
    except ImportError as err:
        raise CalculatorSpecError(
            f"calculator {text!r}: module {parsed.module!r} cannot be imported ({err}); "
            "is its package installed in this environment?"
        ) from err
    obj: Any = module
    for part in parsed.factory.split("."):
        if not hasattr(obj, part):
            public = sorted(n for n in dir(module) if not n.startswith("_"))[:20]
            raise CalculatorSpecError(
                f"calculator {text!r}: module {parsed.module!r} has no {parsed.factory!r} "
                f"(some of its names: {', '.join(public)})"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise CalculatorSpecError(f"calculator {text!r}: {parsed.factory!r} is not callable")
    try:
        calc = obj(**parsed.kwargs)
    except Exception as err:  # the factory's own error, whatever it is
        raise CalculatorSpecError(
            f"calculator {text!r}: {parsed.factory}(**{parsed.kwargs}) failed: "
            f"{type(err).__name__}: {err}"
        ) from err
    if not (callable(getattr(calc, "get_potential_energy", None)) and hasattr(calc, "calculate")):
        raise CalculatorSpecError(
            f"calculator {text!r}: {parsed.factory} returned a {type(calc).__name__}, not an "
            "ASE calculator"
        )
    if not getattr(calc, "description", None):
        try:
            calc.description = str(parsed)
        except AttributeError:  # a calculator that does not take new attributes
            pass
    return calc
