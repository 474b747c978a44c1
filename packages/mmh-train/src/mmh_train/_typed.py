"""Strict conversion of plain YAML data into typed dataclasses.

Every unknown key and every value of the wrong type is an error whose message names the key
by its dotted path (``optimizer.lr``), so a typo fails at start-up instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

__all__ = ["ConfigError", "from_data", "to_data"]


class ConfigError(ValueError):
    """An invalid training configuration (the message names the key)."""


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(_describe(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_describe(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', origin)}[{args}]"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{path}: {value!r} is not one of {_describe(tp)}")
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{path}: a value is required ({_describe(tp)})")
        candidates = [a for a in args if a is not type(None)]
        if len(candidates) == 1:
            return _convert(candidates[0], value, path)
        for arg in candidates:
            try:
                return _convert(arg, value, path)
            except ConfigError:
                continue
        raise ConfigError(f"{path}: {value!r} is not {_describe(tp)}")
    if dataclasses.is_dataclass(tp):
        return from_data(tp, value, path)
    if origin in (list, tuple) or tp in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        if (origin is tuple or tp is tuple) and args and Ellipsis not in args:
            if len(value) != len(args):
                raise ConfigError(f"{path}: expected {len(args)} values, got {len(value)}")
        items = [_convert(item, v, f"{path}[{k}]") for k, v in enumerate(value)]
        return tuple(items) if (origin is tuple or tp is tuple) else items
    if origin is dict or tp is dict or origin is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        args = typing.get_args(tp)
        ktp, vtp = args if args else (Any, Any)
        return {
            _convert(ktp, k, f"{path}.{k}"): _convert(vtp, v, f"{path}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # YAML 1.1 reads 1e-4 (without a dot) as a string
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{path}: unsupported field type {tp!r}")


def from_data(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, recursively, rejecting unknown keys."""
    where = path or "the configuration"
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        known = ", ".join(sorted(fields))
        key = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(f"unknown key {key!r} (known keys here: {known})")
    kwargs = {}
    for name, f in fields.items():
        key = f"{path}.{name}" if path else name
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {key!r}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}: {err}") from None


def to_data(obj: Any) -> Any:
    """Plain YAML/JSON data of a (nested) dataclass."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    return obj
