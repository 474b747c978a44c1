"""Graphs carry head names; each model resolves them to its own head indices."""

from __future__ import annotations

import pytest
import torch
from mmh_data import GraphBuilder, collate
from mmh_heads.testing import R_MAX, molecule, tiny_model, triclinic


def _configs():
    return [
        molecule(0, head="new"),
        triclinic(1, head="base"),
        molecule(2, head="new"),
    ]


def test_one_graph_serves_models_with_other_head_orders():
    model = tiny_model()
    graphs = [GraphBuilder(R_MAX, heads=None)(c) for c in _configs()]
    assert [int(g.head) for g in graphs] == [-1, -1, -1]
    by_name = model(collate(graphs), compute_stress=False)
    indexed = GraphBuilder(R_MAX, heads=model.heads)
    by_index = model(collate([indexed(c) for c in _configs()]), compute_stress=False)
    torch.testing.assert_close(by_name["energy"], by_index["energy"], rtol=0, atol=0)
    torch.testing.assert_close(by_name["forces"], by_index["forces"], rtol=0, atol=0)
    # the same graphs serve a model with other head indices: "new" alone, at index 0
    single = model.extract_head("new")
    new_graphs = [graphs[0], graphs[2]]
    batch = single.resolve_heads(collate(new_graphs))
    assert batch.head.tolist() == [0, 0]
    alone = single(batch, compute_stress=False)
    both = model(collate(new_graphs), compute_stress=False)
    torch.testing.assert_close(alone["energy"], both["energy"])


def test_unknown_head_name_is_an_error():
    model = tiny_model()
    graph = GraphBuilder(R_MAX, heads=None)(molecule(0, head="r2scan"))
    with pytest.raises(KeyError, match="r2scan"):
        model(collate([graph]))
