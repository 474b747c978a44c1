"""A JSON Schema of the training configuration, generated from the config types.

Editors that read JSON Schema (VS Code with the YAML extension, PyCharm, Neovim through
yaml-language-server) then complete and check the keys of an ``mmh-train`` YAML file. The
schema is derived from the same dataclasses [`mmh_train.load_config`][] converts into,
so the two cannot drift: the field types give the JSON types, ``Literal`` the allowed
values, the field defaults the defaults, and the ``Attributes`` sections of the
docstrings the descriptions. Constraints checked in ``__post_init__`` (ranges, exclusive
options) stay with the loader.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union

from ._config import TrainConfig

__all__ = ["SCHEMA_ID", "config_schema", "write_config_schema"]

#: ``$id`` of the schema.
SCHEMA_ID = "https://mmh.invalid/config.schema.json"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: strings the loader reads as numbers (YAML 1.1 reads ``1e-4`` as a string)
_FLOAT_TEXT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_ATTRIBUTE = re.compile(r"^(\w+)(?: \(.*?\))?: (.*)$")


def _field_docs(cls: type) -> dict[str, str]:
    """``{field: description}`` from the ``Attributes:`` section of a docstring."""
    doc = inspect.getdoc(cls) or ""
    out: dict[str, str] = {}
    current = None
    in_section = False
    for line in doc.splitlines():
        if line.strip() in ("Attributes:", "Args:"):
            in_section, current = True, None
            continue
        if not in_section:
            continue
        if line and not line.startswith(" "):
            break  # the next section
        stripped = line.strip()
        match = (
            _ATTRIBUTE.match(stripped)
            if line.startswith("    ") and not line.startswith("        ")
            else None
        )
        if match:
            current = match.group(1)
            out[current] = match.group(2)
        elif current and stripped:
            out[current] += " " + stripped
    return {k: " ".join(v.split()) for k, v in out.items()}


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class _Builder:
    def __init__(self) -> None:
        self.defs: dict[str, dict] = {}

    def type_schema(self, tp: Any) -> dict:
        origin = typing.get_origin(tp)
        if tp is Any:
            return {}
        if origin is Literal:
            return {"enum": list(typing.get_args(tp))}
        if origin in (Union, types.UnionType):
            args = typing.get_args(tp)
            options = [self.type_schema(a) for a in args if a is not type(None)]
            if type(None) in args:
                options.append({"type": "null"})
            return options[0] if len(options) == 1 else {"anyOf": options}
        if dataclasses.is_dataclass(tp):
            return self.dataclass_ref(tp)
        if origin in (list, tuple) or tp in (list, tuple):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis]
            out: dict[str, Any] = {"type": "array"}
            if args:
                out["items"] = self.type_schema(args[0])
            fixed = typing.get_args(tp)
            if origin is tuple and fixed and Ellipsis not in fixed:
                out["minItems"] = out["maxItems"] = len(fixed)
            return out
        if origin is dict or tp is dict or origin is Mapping:
            args = typing.get_args(tp)
            out = {"type": "object"}
            if args:
                key, value = args
                out["additionalProperties"] = self.type_schema(value)
                if key is int:
                    # YAML keys such as 8 or "8" (atomic numbers)
                    out["propertyNames"] = {"pattern": r"^\d+$"}
            return out
        if tp is bool:
            return {"type": "boolean"}
        if tp is int:
            return {"type": "integer"}
        if tp is float:
            return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _FLOAT_TEXT}]}
        if tp is str:
            return {"type": "string"}
        raise TypeError(f"no JSON Schema for the config field type {tp!r}")

    def dataclass_ref(self, cls: type) -> dict:
        name = cls.__name__
        if name not in self.defs:
            self.defs[name] = {}  # placeholder against recursion
            self.defs[name] = self.dataclass_schema(cls)
        return {"$ref": f"#/$defs/{name}"}

    def dataclass_schema(self, cls: type) -> dict:
        hints = typing.get_type_hints(cls)
        docs = _field_docs(cls)
        properties: dict[str, dict] = {}
        required = []
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            schema = dict(self.type_schema(hints[f.name]))
            if f.name in docs:
                schema["description"] = docs[f.name]
            if f.default is not dataclasses.MISSING:
                schema["default"] = _jsonable(f.default)
            elif f.default_factory is not dataclasses.MISSING:
                schema["default"] = _jsonable(f.default_factory())
            else:
                required.append(f.name)
            properties[f.name] = schema
        out: dict[str, Any] = {
            "type": "object",
            "description": _summary(cls),
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            out["required"] = required
        return out


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an ``mmh-train`` YAML configuration.

    Unknown keys are rejected (``additionalProperties: false`` in every section), as
    [`mmh_train.load_config`][] rejects them.

    Example:
        >>> config_schema().get("title")
        'mmh-train configuration'
    """
    builder = _Builder()
    root = builder.dataclass_schema(TrainConfig)
    return {
        "$schema": _DIALECT,
        "$id": SCHEMA_ID,
        "title": "mmh-train configuration",
        **root,
        "$defs": dict(sorted(builder.defs.items())),
    }


def write_config_schema(path: str | Path) -> Path:
    """Write [`mmh_train.config_schema`][] as indented JSON (the file ``docs/config.schema.json``
    of the repository is written this way)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n")
    return path
