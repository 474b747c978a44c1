"""mmh models in other tools: the ml-peg registry entry from the head metadata, janus-core's
single point and geometry optimisation, and ml-peg's model loading. The janus-core and
ml-peg tests run where those packages are installed (they are not workspace
dependencies: ml-peg's pins conflict with the workspace lock)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from ase_kit import MODEL
from mmh_ase import MMHCalculator, ml_peg_entry
from mmh_ase.testing import jittered_cell
from mmh_heads import save_model
from mmh_heads.testing import tiny_model


@pytest.fixture(scope="module")
def tagged_file(tmp_path_factory):
    model = tiny_model(dtype=torch.float32, seed=5, **MODEL)
    model.set_head_meta("base", {"level_of_theory": "PBE", "dispersion": False})
    model.set_head_meta("new", {"level_of_theory": "PBE+D3(BJ)", "dispersion": True})
    return save_model(model, tmp_path_factory.mktemp("eco") / "tagged.safetensors")


def test_ml_peg_entry_comes_from_the_head_metadata(tagged_file):
    entry = ml_peg_entry(tagged_file, "base")
    assert entry == {
        "module": "mmh_ase",
        "class_name": "MMHCalculator",
        "device": "auto",
        "trained_on_dispersion": False,
        "level_of_theory": "PBE",
        "kwargs": {"model": str(tagged_file), "head": "base"},
    }
    assert ml_peg_entry(tagged_file, "new")["trained_on_dispersion"] is True
    assert ml_peg_entry(tagged_file, "new", datasets=["MPtrj"])["datasets"] == ["MPtrj"]


def test_ml_peg_entry_needs_to_know_about_dispersion(tmp_path, tagged_file):
    bare = save_model(tiny_model(dtype=torch.float32, **MODEL), tmp_path / "bare.safetensors")
    with pytest.raises(ValueError, match=r"heads\.base\.meta\.dispersion"):
        ml_peg_entry(bare, "base")
    assert ml_peg_entry(bare, "base", trained_on_dispersion=False)["trained_on_dispersion"] is False
    with pytest.raises(ValueError, match="choose one"):
        ml_peg_entry(tagged_file)


def test_janus_core_single_point_and_geometry_optimisation(tagged_file, tmp_path):
    pytest.importorskip("janus_core", reason="janus-core is not installed")
    from janus_core.calculations.geom_opt import GeomOpt
    from janus_core.calculations.single_point import SinglePoint

    atoms = jittered_cell(11)
    atoms.calc = MMHCalculator(tagged_file, head="base", default_dtype="float64")
    expected = atoms.calc.get_potential_energy(atoms.copy())
    point = SinglePoint(
        struct=atoms, properties=("energy", "forces", "stress"), file_prefix=tmp_path / "sp"
    )
    results = point.run()
    assert results["energy"] == pytest.approx(expected, abs=1e-10)
    assert np.asarray(results["forces"]).shape == (len(atoms), 3)
    assert np.asarray(results["stress"]).shape == (6,)
    assert atoms.calc.dtype == torch.float64

    relaxed = jittered_cell(11)
    relaxed.calc = MMHCalculator(tagged_file, head="base", default_dtype="float64")
    start = np.abs(relaxed.get_forces()).max()
    GeomOpt(struct=relaxed, fmax=1e-3, steps=200, file_prefix=tmp_path / "opt").run()
    assert np.abs(relaxed.get_forces()).max() < min(start, 5e-3)


def test_ml_peg_loads_an_mmh_head_with_its_precision(tagged_file, tmp_path):
    pytest.importorskip("ml_peg", reason="ml-peg is not installed")
    from ml_peg.models.get_models import load_models

    registry = tmp_path / "models.yml"
    registry.write_text(
        yaml.safe_dump({"mmh-tiny": ml_peg_entry(tagged_file, "base", device="cpu")})
    )
    models = load_models(["mmh-tiny"], filepath=registry)
    spec = models["mmh-tiny"]
    assert spec.trained_on_dispersion is False
    high = spec.get_calculator(precision="high")
    low = spec.get_calculator(precision="low")
    assert isinstance(high, MMHCalculator) and high.head == "base"
    assert (high.dtype, low.dtype) == (torch.float64, torch.float32)
    atoms = jittered_cell(12)
    assert high.get_potential_energy(atoms) == pytest.approx(
        low.get_potential_energy(atoms), rel=1e-5
    )
