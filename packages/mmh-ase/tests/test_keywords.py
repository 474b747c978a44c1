"""The calculator's keywords: ``default_dtype`` (the name janus-core and ml-peg pass) and
unknown keywords, which are errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase_kit import MODEL
from mmh_ase import MMHCalculator
from mmh_ase.testing import jittered_cell
from mmh_heads import save_model
from mmh_heads.testing import tiny_model


@pytest.fixture(scope="module")
def float32_file(tmp_path_factory):
    return save_model(
        tiny_model(dtype=torch.float32, seed=3, **MODEL),
        tmp_path_factory.mktemp("m") / "f32.safetensors",
    )


def test_default_dtype_float64_runs_in_float64(float32_file):
    atoms = jittered_cell(4)
    calc = MMHCalculator(float32_file, head="base", default_dtype="float64")
    assert calc.dtype == torch.float64
    assert calc.model.dtype == torch.float64
    assert calc.build_batch(atoms).positions.dtype == torch.float64
    plain = MMHCalculator(float32_file, head="base", dtype="float64")
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    assert energy == pytest.approx(plain.get_potential_energy(atoms), abs=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), plain.get_forces(atoms), atol=1e-12)
    assert "float64" in repr(calc)


def test_default_dtype_accepts_torch_dtypes_and_agrees_with_dtype(float32_file):
    calc = MMHCalculator(float32_file, head="base", default_dtype=torch.float64)
    assert calc.dtype == torch.float64
    same = MMHCalculator(float32_file, head="base", dtype="float64", default_dtype="float64")
    assert same.dtype == torch.float64
    with pytest.raises(ValueError, match="disagree"):
        MMHCalculator(float32_file, head="base", dtype="float32", default_dtype="float64")
    with pytest.raises(ValueError, match="'float32' or 'float64'"):
        MMHCalculator(float32_file, head="base", default_dtype="float16")


def test_unknown_keyword_raises(float32_file):
    with pytest.raises(TypeError, match=r"unknown keyword argument\(s\) \['model_type'\]"):
        MMHCalculator(float32_file, head="base", model_type="mace")
    with pytest.raises(TypeError, match="defalt_dtype"):
        MMHCalculator(float32_file, head="base", defalt_dtype="float64")


def test_ase_keywords_are_still_accepted(float32_file, tmp_path):
    calc = MMHCalculator(float32_file, head="base", directory=str(tmp_path), label="mmh")
    assert calc.directory == str(tmp_path)
