"""In-domain errors on the bundled test splits."""

import numpy as np
import pytest
from bench_kit import Labels
from mmh_bench import in_domain
from mmh_data import datasets


@pytest.fixture(scope="module")
def frames():
    return {name: datasets.load_atoms(name, "test") for name in ("bulk", "mol")}


def test_exact_labels_give_zero_error(frames):
    calc = Labels(frames["bulk"] + frames["mol"])
    result = in_domain(calc, ["bulk", "mol"], max_frames=5)
    assert result.name == "in_domain" and result.domain == "in_domain"
    for key, value in result.metrics.items():
        if key.endswith("_n_frames"):
            assert value == 5
        else:
            assert value == 0.0, key
    assert "bulk_stress_mae_mev_per_a3" in result.metrics
    assert "mol_stress_mae_mev_per_a3" not in result.metrics  # molecules have no stress
    assert result.data["datasets"]["bulk"]["head"] is None  # one calculator: no head


def test_known_offsets_give_known_errors(frames):
    calc = Labels(frames["bulk"], de_per_atom=0.01, df=-0.002, ds=5e-4)
    result = in_domain(calc, ["bulk"], max_frames=7)
    m = result.metrics
    assert m["bulk_energy_mae_mev_per_atom"] == pytest.approx(10.0)
    assert m["bulk_energy_rmse_mev_per_atom"] == pytest.approx(10.0)
    assert m["bulk_forces_mae_mev_per_a"] == pytest.approx(2.0)
    assert m["bulk_forces_rmse_mev_per_a"] == pytest.approx(2.0)
    assert m["bulk_stress_mae_mev_per_a3"] == pytest.approx(0.5)
    entry = result.data["datasets"]["bulk"]
    np.testing.assert_allclose(
        np.array(entry["energy_per_atom_pred_ev"]) - entry["energy_per_atom_ref_ev"], 0.01
    )
    assert result.units["bulk_forces_mae_mev_per_a"] == "meV/Å"


def test_factory_is_called_once_per_head_and_heads_map_datasets(frames):
    made = []

    def factory(head):
        made.append(head)
        return Labels(frames["bulk"] + frames["mol"], de_per_atom=0.001 * len(made))

    result = in_domain(factory, ["bulk", "mol"], {"bulk": "base", "mol": "base"}, max_frames=3)
    assert made == ["base"]
    assert result.data["datasets"]["mol"]["head"] == "base"
    result = in_domain(factory, ["bulk", "mol"], max_frames=3)  # heads named like datasets
    assert made == ["base", "bulk", "mol"]
    assert result.metrics["bulk_energy_mae_mev_per_atom"] == pytest.approx(2.0)
    assert result.metrics["mol_energy_mae_mev_per_atom"] == pytest.approx(3.0)

    mapping = {"bulk": Labels(frames["bulk"])}
    assert in_domain(mapping, ["bulk"], max_frames=2).metrics["bulk_n_frames"] == 2
    with pytest.raises(KeyError, match="no calculator for head 'mol'"):
        in_domain(mapping, ["mol"], max_frames=2)
    with pytest.raises(TypeError, match="calculators must be"):
        in_domain(42, ["bulk"])


def test_frames_with_unsupported_elements_are_skipped(frames):
    calc = Labels(frames["bulk"], elements=["Cu"])
    result = in_domain(calc, ["bulk"])
    entry = result.data["datasets"]["bulk"]
    cu_frames = sum(set(a.get_chemical_symbols()) == {"Cu"} for a in frames["bulk"])
    assert entry["n_frames"] == cu_frames > 0
    assert entry["skipped_frames"] == len(frames["bulk"]) - cu_frames
    with pytest.raises(RuntimeError, match="no frame of mol/test"):
        in_domain(Labels(frames["mol"], elements=["Cu"]), ["mol"])


def test_tblite_reproduces_its_own_labels():
    """The mol test split is GFN2-xTB: tblite with the dataset settings has zero error."""
    pytest.importorskip("tblite")
    from mmh_bench import make_calculator

    result = in_domain(make_calculator("tblite-gfn2"), ["mol"], max_frames=4)
    assert result.metrics["mol_n_frames"] == 4
    assert result.metrics["mol_energy_mae_mev_per_atom"] < 1e-3
    assert result.metrics["mol_forces_mae_mev_per_a"] < 1e-2
