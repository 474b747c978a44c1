"""The JSON Schema of the configuration: generated from the config types, committed as
``docs/config.schema.json``, validates the example configs and rejects unknown keys."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest
import yaml
from mmh_train import TrainConfig, config_schema, load_config
from mmh_train.cli import main

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "config.schema.json"
EXAMPLES = sorted((ROOT / "experiments" / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator():
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _dataclasses(cls, seen=None):
    """Every config dataclass reachable from ``cls``."""
    seen = {} if seen is None else seen
    if cls.__name__ in seen:
        return seen
    seen[cls.__name__] = cls
    for tp in typing.get_type_hints(cls).values():
        stack = [tp]
        while stack:
            t = stack.pop()
            if dataclasses.is_dataclass(t):
                _dataclasses(t, seen)
            stack.extend(typing.get_args(t))
    return seen


def test_committed_schema_is_up_to_date():
    assert COMMITTED.is_file(), "write it with: mmh-train schema -o docs/config.schema.json"
    assert json.loads(COMMITTED.read_text()) == config_schema(), (
        "docs/config.schema.json is stale; rewrite it with "
        "mmh-train schema -o docs/config.schema.json"
    )


def _messages(errors) -> list[str]:
    out = []
    for e in errors:
        out.append(e.message)
        out.extend(_messages(e.context or []))
    return out


def test_schema_has_every_section_and_field_of_the_config_types():
    schema = config_schema()
    classes = _dataclasses(TrainConfig)
    assert set(schema["$defs"]) == set(classes) - {"TrainConfig"}
    for name, cls in classes.items():
        node = schema if name == "TrainConfig" else schema["$defs"][name]
        fields = [f.name for f in dataclasses.fields(cls) if f.init]
        assert list(node["properties"]) == fields, name
        assert node["additionalProperties"] is False
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        assert node.get("required", []) == required, name


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_validates(path, validator):
    data = yaml.safe_load(path.read_text())
    errors = [e.message for e in validator.iter_errors(data)]
    assert not errors, errors
    load_config(path)  # and the loader agrees


def test_examples_exist():
    assert len(EXAMPLES) >= 4


def test_defaults_and_a_full_config_validate(validator):
    validator.validate(TrainConfig().to_dict())
    validator.validate(
        {
            "heads": {
                "mol": {
                    "dataset": "mol",
                    "e0s": {1: -13.6, "8": -2041.8},
                    "meta": {"level_of_theory": "GFN2-xTB", "dispersion": True},
                }
            },
            "optimizer": {"lr": "1e-4", "betas": [0.9, 0.99]},
            "logging": {"wandb": {"project": "mmh", "mode": "offline"}},
        }
    )


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"trainig": {"epochs": 3}}, "trainig"),
        ({"training": {"epoch": 3}}, "epoch"),
        ({"heads": {"mol": {"dataset": "mol", "meta": {"functional": "PBE"}}}}, "functional"),
        ({"logging": {"wandb": {"name": "x"}}}, "project"),
        ({"dtype": "float16"}, "float16"),
        ({"optimizer": {"betas": [0.9]}}, "short"),
        ({"training": {"epochs": 2.5}}, "integer"),
    ],
)
def test_schema_rejects_what_the_loader_rejects(data, where, validator, tmp_path):
    errors = _messages(validator.iter_errors(data))
    assert errors and any(where in m for m in errors), errors
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError):
        load_config(path)


def test_cli_writes_the_schema(tmp_path, capsys):
    out = tmp_path / "schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == config_schema()
    capsys.readouterr()
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "mmh-train configuration"
