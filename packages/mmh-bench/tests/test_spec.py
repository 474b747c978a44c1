"""Calculators by import path: ``module:Factory?key=value`` on the command line and in
Python, with clear errors for bad specs."""

from __future__ import annotations

import json

import pytest
from mmh_bench import CalculatorSpecError, calculator_from_spec, make_calculator, parse_spec
from mmh_bench.cli import main
from spec_factories import CALLS, ScaledEMT


def test_parse_spec_values():
    spec = parse_spec("pkg.mod:make?a=1&b=2.5&c=true&d=none&e=small&f=a%26b")
    assert (spec.module, spec.factory) == ("pkg.mod", "make")
    assert spec.kwargs == {"a": 1, "b": 2.5, "c": True, "d": None, "e": "small", "f": "a&b"}
    assert parse_spec("m:Cls.method").factory == "Cls.method"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("emt2", "unknown calculator 'emt2'"),
        ("ase.calculators.emt", "unknown calculator"),
        ("ase.calculators.emt:", "expected module:Factory"),
        (":EMT", "expected module:Factory"),
        ("ase.calculators.emt:EMT?factor", "'factor' is not key=value"),
        ("ase.calculators.emt:EMT?a=1&a=2", "'a' given twice"),
        ("no_such_module_xyz:Calc", "module 'no_such_module_xyz' cannot be imported"),
        ("ase.calculators.emt:NoSuch", "has no 'NoSuch'"),
        ("spec_factories:not_a_calculator", "returned a int, not an ASE calculator"),
        ("spec_factories:broken", "RuntimeError: no licence"),
        ("spec_factories:scaled_emt?colour=red", "unexpected keyword argument 'colour'"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        make_calculator(spec)


def test_spec_error_is_a_value_error():
    with pytest.raises(CalculatorSpecError):
        calculator_from_spec("ase.calculators.emt:NoSuch")


def test_python_api_calls_the_factory_with_typed_arguments():
    CALLS.clear()
    calc = make_calculator("spec_factories:scaled_emt?factor=0.5&label=run1&fast=true")
    assert isinstance(calc, ScaledEMT) and calc.factor == 0.5
    assert CALLS == [{"factor": 0.5, "label": "run1", "fast": True}]
    assert calc.description == "spec_factories:scaled_emt(factor=0.5, label='run1', fast=True)"
    assert calculator_from_spec("ase.calculators.emt:EMT").description.startswith("ase.")


def _run(tmp_path, spec, capsys):
    out = tmp_path / "run"
    argv = ["run", "--calculator", spec, "--suite", "physicality", "--points", "12"]
    argv += ["--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert "report:" in capsys.readouterr().out
    assert (out / "report.md").is_file()
    return out


def test_cli_runs_an_importable_calculator(tmp_path, capsys):
    out = _run(tmp_path, "ase.calculators.emt:EMT", capsys)
    info = json.loads((out / "run.json").read_text())
    assert "ase.calculators.emt:EMT" in json.dumps(info)
    named = _run(tmp_path / "named", "emt", capsys)
    for name in ("slab_extensivity", "h_additivity"):
        a = json.loads((out / "results" / f"{name}.json").read_text())["metrics"]
        b = json.loads((named / "results" / f"{name}.json").read_text())["metrics"]
        assert a == pytest.approx(b)


def test_cli_runs_a_factory_of_a_test_module(tmp_path, capsys):
    out = _run(tmp_path, "spec_factories:scaled_emt?factor=2", capsys)
    report = (out / "report.md").read_text()
    assert "scaled_emt" in report
    diatomics = json.loads((out / "results" / "diatomics.json").read_text())
    assert diatomics["metrics"]


def test_cli_bad_spec_is_one_line(tmp_path, capsys):
    argv = ["run", "--calculator", "ase.calculators.emt:Nope", "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmh-bench: error: calculator") and err.count("\n") == 1
