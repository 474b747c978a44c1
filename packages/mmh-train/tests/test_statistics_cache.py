"""Pre-training statistics: one pass, cached with the training files, equal to the
in-memory computation."""

from __future__ import annotations

import pytest
from mmh_data import (
    SIDECAR_SUFFIX,
    average_e0s,
    compute_statistics,
    read_configurations,
    write_lmdb,
)
from mmh_train import TrainConfig, prepare_pretrain
from train_kit import pretrain_config, write_frames


def _setup(tmp_path, train, e0s="average"):
    cfg = pretrain_config(
        tmp_path, heads={"bulk": {"train": [str(train)], "valid_fraction": None, "e0s": e0s}}
    )
    return prepare_pretrain(TrainConfig.from_dict(cfg))


@pytest.mark.parametrize("suffix", [".xyz", ".lmdb"])
def test_statistics_are_cached_and_equal_the_in_memory_ones(tmp_path, suffix):
    xyz = write_frames(tmp_path / "train.xyz", "bulk", "train", 30)
    train = xyz
    if suffix == ".lmdb":
        train = tmp_path / "train.lmdb"
        write_lmdb(train, read_configurations(xyz, head="bulk"))
    first = _setup(tmp_path, train)
    assert first.summary["statistics_cache"] == {str(train): "computed"}
    if suffix == ".xyz":
        assert (tmp_path / f"train.xyz{SIDECAR_SUFFIX}").exists()
    second = _setup(tmp_path, train)
    assert second.summary["statistics_cache"] == {str(train): "cached"}
    # the in-memory computation of before
    configs = first.splits["bulk"].train
    e0s = first.model.head_e0s("bulk")
    assert e0s == pytest.approx(average_e0s(configs), abs=1e-9)
    ref = compute_statistics(configs, cutoff=first.model.backbone.config.r_max, e0s=e0s)["bulk"]
    for s in (first, second):
        assert s.summary["scale"]["bulk"] == pytest.approx(ref.rms_force, rel=1e-12)
        assert s.summary["shift"]["bulk"] == pytest.approx(ref.mean_interaction_energy, abs=1e-10)
        assert s.summary["avg_num_neighbors"] == pytest.approx(ref.avg_num_neighbours, rel=1e-12)
        assert s.model.head_e0s("bulk") == pytest.approx(e0s, abs=1e-9)
