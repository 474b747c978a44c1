"""Choosing a head: no silent default, errors that list the heads."""

import pytest
from ase_kit import HEADS, shared_model
from mmh_ase import HeadSelectionError, MMHCalculator, list_heads
from mmh_ase.testing import atoms_of
from mmh_heads import ModelFileError
from mmh_heads.testing import molecule


def test_list_heads_reads_the_file_header(model_file):
    assert list_heads(model_file) == list(HEADS)


def test_list_heads_of_a_file_that_is_not_a_model(tmp_path):
    bad = tmp_path / "not-a-model.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match=r"not-a-model\.safetensors"):
        list_heads(bad)
    with pytest.raises(ModelFileError, match="no such model file"):
        MMHCalculator(tmp_path / "missing.safetensors", head="base")


def test_multi_head_model_without_a_head_is_an_error(model_file):
    with pytest.raises(HeadSelectionError, match=r"2 heads \['base', 'new'\].*head="):
        MMHCalculator(model_file)
    with pytest.raises(HeadSelectionError, match="the model has 2 heads"):
        MMHCalculator(shared_model())


def test_unknown_head_lists_the_heads(model_file):
    with pytest.raises(HeadSelectionError, match=r"no head 'pbe'; its heads are \['base', 'new'\]"):
        MMHCalculator(model_file, head="pbe")
    with pytest.raises(HeadSelectionError, match="head name"):
        MMHCalculator(model_file, head=0)
    assert issubclass(HeadSelectionError, ValueError)


def test_each_head_gives_its_own_predictions():
    model = shared_model()
    atoms = atoms_of(molecule(3))
    energies = {h: MMHCalculator(model, head=h).get_potential_energy(atoms) for h in HEADS}
    assert energies["base"] != pytest.approx(energies["new"])
    for k, head in enumerate(HEADS):
        alone = model.extract_head(head)
        assert MMHCalculator(alone).get_potential_energy(atoms) == pytest.approx(
            energies[head], abs=1e-12
        ), k


def test_list_heads_with_metadata(tmp_path, model_file):
    from mmh_heads import save_model

    assert list_heads(model_file, meta=True) == {h: {} for h in HEADS}
    model = shared_model()
    tagged = type(model)(model.config, dtype=model.dtype)
    tagged.load_state_dict(model.state_dict())
    tagged.set_head_meta("base", {"level_of_theory": "PBE", "dispersion": False})
    path = save_model(tagged, tmp_path / "tagged.safetensors")
    heads = list_heads(path, meta=True)
    assert list(heads) == list(HEADS)
    assert heads["base"] == {"level_of_theory": "PBE", "dispersion": False}
    assert heads["new"] == {}
