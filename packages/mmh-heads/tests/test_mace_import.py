"""Importing mace-torch model files: exact against mace's calculator, for every block family,
head, structure and file form; provenance; the state-dict route; the command line."""

import dataclasses
import json

import mace_fixtures as fx
import numpy as np
import pytest
import torch
from mmh_heads import MaceFileError, import_mace, load_mace_model, load_model
from mmh_heads.cli import main
from mmh_heads.testing import ModelTests

#: float64 files: relative to the largest magnitude of each output
RTOL64 = 1e-10
#: float32 files evaluated in float32: energies
RTOL32 = 1e-6

CASES = [
    (name, head, structure)
    for name in fx.MODELS
    for head in fx.reference(name)["heads"]
    for structure in fx.reference(name)["structures"]
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mace")
    return {name: load_mace_model(fx.model_file(name, folder)) for name in fx.MODELS}


def _relative(ours, theirs):
    scale = max(np.abs(theirs).max(), 1e-300)
    return np.abs(ours - theirs).max() / scale


@pytest.mark.parametrize(("name", "head", "structure"), CASES)
def test_imported_model_equals_mace_calculator(models, name, head, structure):
    ref = fx.reference(name)
    model = models[name]
    config = fx.configuration(ref["structures"][structure])
    out = fx.evaluate(model, config, head)
    res = ref["results"][head][structure]
    if "stress" in out and not all(config.pbc):
        out["stress"] = out["stress"] / fx.mace_volume_ratio(config, model.backbone.config.r_max)
    if ref["dtype"] == "float64":
        assert model.dtype == torch.float64
        for key in ("energy", "energies", "forces", "stress"):
            if key in res:
                assert _relative(out[key], fx.stored(res, key)) < RTOL64, key
    else:
        assert model.dtype == torch.float32
        for key in ("energy", "energies"):
            assert _relative(out[key], fx.stored(res, key)) < RTOL32, key
        # float32 forces carry float32 cancellation in both codes: mace's own float32 forces
        # differ from its float64 evaluation of the same file by as much as these bounds
        own = fx.stored(ref["results_float64"][head][structure], "forces")
        mace_error = np.abs(fx.stored(res, "forces") - own).max()
        assert np.abs(out["forces"] - fx.stored(res, "forces")).max() <= 2 * mace_error + 1e-6


@pytest.mark.parametrize("head", fx.reference("nonlinear_mh1_L1_f32")["heads"])
def test_float32_file_in_float64_matches_mace_float64(tmp_path, head):
    """mace's float64 evaluation of a float32 file keeps float32-rounded constants; mmh keeps
    the file's buffers and recomputes the coupling basis, so they agree to float32 round-off
    of those constants."""
    ref = fx.reference("nonlinear_mh1_L1_f32")
    model = load_mace_model(fx.model_file("nonlinear_mh1_L1_f32", tmp_path), dtype="float64")
    for structure, res in ref["results_float64"][head].items():
        out = fx.evaluate(model, fx.configuration(ref["structures"][structure]), head)
        assert _relative(out["energy"], fx.stored(res, "energy")) < 1e-7
        assert np.abs(out["forces"] - fx.stored(res, "forces")).max() < 1e-5


def test_header_records_where_the_model_came_from(tmp_path):
    src = fx.model_file("nonlinear_mh1_L1", tmp_path)
    out = import_mace(src, tmp_path / "mh.safetensors")
    model = load_model(out)
    ref = fx.reference("nonlinear_mh1_L1")
    source = model.provenance
    assert source["file"] == src.name
    assert source["sha256"] == ref["file_sha256_uncompressed"]
    assert source["mace_version"] == "0.3.16 or later"
    assert source["heads"] == ref["heads"]
    assert source["contraction_basis"] == "mace-e3nn"
    assert source["form"] == "e3nn"
    assert model.heads == ref["heads"]
    cfg = model.config
    assert cfg.backbone.elements == tuple(ref["buffers"]["atomic_numbers"])
    assert cfg.backbone.r_max == ref["buffers"]["r_max"]
    assert cfg.zbl and cfg.readout_silu_norm == pytest.approx(1.6791767923989418, abs=0)
    for k, head in enumerate(ref["heads"]):
        assert cfg.scale[head] == ref["buffers"]["scale"]["value"][k]
        e0 = ref["buffers"]["atomic_energies"]["value"][k]
        assert list(cfg.e0s[head].values()) == e0


def test_version_and_form_are_recognised(models):
    assert models["nonlinear_v0315"].provenance["mace_version"] == "0.3.15"
    assert models["nonlinear_v0315"].provenance["blocks"]["gate"] == "e3nn.nn._gate.Gate"
    assert models["nonlinear_mh1_L1_cueq"].provenance["form"] == "cuequivariance"
    assert models["nonlinear_mh1_L1_f32"].provenance["dtype"] == "float32"
    first = models["density_omat"].backbone.config
    assert (first.first_block, first.block) == ("density_nonresidual", "density")


def test_head_subset_keeps_predictions_exactly(models, tmp_path):
    ref = fx.reference("nonlinear_mh1_L1")
    head = ref["heads"][1]
    single = load_mace_model(fx.model_file("nonlinear_mh1_L1", tmp_path), heads=[head])
    assert single.heads == [head]
    config = fx.configuration(ref["structures"]["triclinic"])
    ours = fx.evaluate(single, config, head)
    full = fx.evaluate(models["nonlinear_mh1_L1"], config, head)
    assert ours["energy"] == full["energy"]
    np.testing.assert_array_equal(ours["forces"], full["forces"])
    assert single.provenance["kept_heads"] == [head]


def test_unknown_head_is_an_error(tmp_path):
    with pytest.raises(MaceFileError, match=r"unknown head.*'nope'.*omat_pbe"):
        load_mace_model(fx.model_file("nonlinear_mh1_L1", tmp_path), heads=["nope"])


def test_state_dict_with_hyperparameters_from_a_model_file(tmp_path):
    template = fx.model_file("linear_mp0a", tmp_path)
    model = load_mace_model(fx.state_dict_file(), hyperparameters=template)
    reference = load_mace_model(template)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    assert model.provenance["hyperparameters_file"] == template.name


def test_state_dict_of_another_architecture_is_refused(tmp_path):
    with pytest.raises(MaceFileError, match=r"does not match the architecture"):
        load_mace_model(
            fx.state_dict_file(),
            hyperparameters=fx.model_file("density_omat", tmp_path),
        )


def test_command_line_import_and_list_heads(tmp_path, capsys):
    src = fx.model_file("nonlinear_mh1_L1", tmp_path)
    out = tmp_path / "mh.safetensors"
    assert main(["import-mace", str(src), "-o", str(out), "--heads", "spice_wb97m"]) == 0
    capsys.readouterr()
    assert main(["list-heads", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [h["name"] for h in info["heads"]] == ["spice_wb97m"]
    assert info["source"]["heads"] == ["omat_pbe", "spice_wb97m"]
    # the plain listing names the head and the source
    assert main(["list-heads", str(out)]) == 0
    text = capsys.readouterr().out
    assert "spice_wb97m" in text and src.name in text and "mace-torch 0.3.16" in text
    # an existing output is refused, and kept as it was
    before = out.read_bytes()
    assert main(["import-mace", str(src), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["import-mace", str(src), "-o", str(out), "--force"]) == 0


class _ImportedModel(ModelTests):
    """The physics battery on a model imported from a mace-torch file."""

    fixture = ""
    float32_rtol = 1e-4  # 32- to 64-channel models: float32 forces to a few 1e-5
    # and energies to about 1e-6 of the largest, depending on the threads' summation order
    float32_energy_rtol = 4e-6

    @pytest.fixture(scope="class")
    def model(self, tmp_path_factory):
        return load_mace_model(fx.model_file(self.fixture, tmp_path_factory.mktemp("mace")))

    @pytest.fixture
    def structures(self, model):
        stored = fx.reference(self.fixture)["structures"]
        names = ("triclinic", "molecule_methanol", "molecule_nitromethane")
        return [
            dataclasses.replace(fx.configuration(stored[n]), head=model.heads[k % len(model.heads)])
            for k, n in enumerate(names)
        ]


class TestImportedMH1(_ImportedModel):
    fixture = "nonlinear_mh1_L1"


class TestImportedMP0a(_ImportedModel):
    fixture = "linear_mp0a"


class TestImportedOMatDensity(_ImportedModel):
    fixture = "density_omat"
