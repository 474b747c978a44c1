"""The physicality benchmarks and the CLI on a real (tiny, untrained) mmh MACE model."""

import pytest
from mmh_bench import calculator_elements, diatomics, h_additivity, slab_extensivity
from mmh_bench.cli import main

mmh_ase = pytest.importorskip("mmh_ase")
if not hasattr(mmh_ase, "MMHCalculator"):
    pytest.skip("mmh_ase.MMHCalculator is not available", allow_module_level=True)

ELEMENTS = (1, 6, 7, 8, 9, 13, 16, 17, 28)  # the mol dataset's elements plus Al and Ni


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from mmh_heads import save_model
    from mmh_heads.testing import tiny_model

    model = tiny_model(("mol", "other"), elements=ELEMENTS, r_max=4.0, channels=4)
    return save_model(model, tmp_path_factory.mktemp("model") / "tiny.safetensors")


def test_a_mace_model_is_local(model_file):
    """Paper Table XII/XIII: Δ = 0.0 meV and |ΔF| = 0 for a MACE model (float64)."""
    calc = mmh_ase.MMHCalculator(model_file, head="mol")
    assert calculator_elements(calc) == ["H", "C", "N", "O", "F", "Al", "S", "Cl", "Ni"]
    slab = slab_extensivity(calc, size=(2, 2), layers=4)
    assert slab.metrics["delta_mev"] < 1e-6
    assert abs(slab.data["stacks"][0]["e12_ev"]) > 1.0  # real energies, not zeros
    add = h_additivity(calc, distances=(50.0, 80.0), size=(2, 2), layers=4)
    assert add.metrics["max_abs_df_mev_per_a"] < 1e-6
    result = diatomics(calc, pairs=["H-H", "Al-Ni"], n_points=20)
    assert set(result.data["pairs"]) == {"H-H", "Al-Ni"}
    with pytest.raises(ValueError, match=r"no element\(s\) \['Cu'\]"):
        slab_extensivity(calc, ("Al", "Cu"))


def test_cli_runs_a_model_file(model_file, tmp_path):
    out = tmp_path / "run"
    rc = main(
        [
            "run",
            "--model",
            str(model_file),
            "--head",
            "other",
            "--suite",
            "slab_extensivity,in_domain",
            "--datasets",
            "mol",
            "--max-frames",
            "2",
            "--slab-size",
            "2x2",
            "--slab-layers",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    import json

    in_domain = json.loads((out / "results" / "in_domain.json").read_text())
    assert in_domain["data"]["datasets"]["mol"]["head"] == "mol"  # the head named like the set
    assert in_domain["metrics"]["mol_n_frames"] == 2
    slab = json.loads((out / "results" / "slab_extensivity.json").read_text())
    assert "head other" in slab["calculator"]


def test_in_domain_batches_an_mmh_calculator_with_the_same_results(model_file):
    """An MMHCalculator is evaluated in batches; a calculator that is not one (here a
    subclass with its own ``calculate``) frame by frame: the metrics agree."""
    from mmh_bench import in_domain

    class FrameByFrame(mmh_ase.MMHCalculator):
        def calculate(self, *args, **kwargs):
            super().calculate(*args, **kwargs)

    batched = in_domain(mmh_ase.MMHCalculator(model_file, head="mol"), ["mol"], max_frames=6)
    single = in_domain(FrameByFrame(model_file, head="mol"), ["mol"], max_frames=6)
    assert batched.metrics["mol_n_frames"] == 6
    for key, value in single.metrics.items():
        if isinstance(value, float):
            assert batched.metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
