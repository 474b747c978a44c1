"""Mixed batches: shares, determinism, resumability and the split over processes."""

from __future__ import annotations

import pytest
from mmh_train import MixedBatchPlan, Source, allocate


def test_allocate_fixed_and_proportional_shares():
    sources = [Source("surf", 800), Source("mol", 3200), Source("replay", 300, 0.3, False)]
    assert allocate(sources, 10) == [1, 6, 3]
    assert sum(allocate(sources, 7)) == 7
    assert allocate([Source("a", 5)], 4) == [4]


def test_allocate_rejects_impossible_shares():
    with pytest.raises(ValueError, match="add up"):
        allocate([Source("a", 5, 0.7), Source("b", 5, 0.6)], 10)
    with pytest.raises(ValueError, match="not 1"):
        allocate([Source("a", 5, 0.5)], 10)


def test_every_batch_keeps_the_shares_and_an_epoch_sees_everything():
    plan = MixedBatchPlan(
        [Source("new", 23), Source("replay", 7, 0.25, False)], batch_size=8, seed=1
    )
    assert plan.counts == [6, 2]
    assert plan.steps_per_epoch == 4  # ceil(23 / 6)
    seen = set()
    for step in range(plan.steps_per_epoch):
        batch = plan.batch(step)
        assert len(batch) == 8
        assert sum(1 for s, _ in batch if s == 1) == 2
        seen |= {i for s, i in batch if s == 0}
    assert seen == set(range(23))


def test_plan_is_a_pure_function_of_the_step():
    sources = [Source("a", 11), Source("b", 5, 0.5, False)]
    a = MixedBatchPlan(sources, 6, seed=4)
    b = MixedBatchPlan(sources, 6, seed=4)
    forward = [a.batch(t) for t in range(12)]
    backward = [b.batch(t) for t in reversed(range(12))][::-1]
    assert forward == backward
    assert MixedBatchPlan(sources, 6, seed=5).batch(0) != forward[0]


@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_partition_the_global_batch(world_size):
    plan = MixedBatchPlan([Source("x", 40), Source("y", 9, 1 / 3, False)], 12, seed=0)
    for step in range(5):
        parts = [plan.local_batch(step, r, world_size) for r in range(world_size)]
        merged = sorted(item for p in parts for item in p)
        assert merged == sorted(plan.batch(step))
        for p in parts:  # every rank gets as many, and its share of the replay
            assert len(p) == 12 // world_size
            assert abs(sum(1 for s, _ in p if s == 1) - 4 / world_size) < 1


def test_batch_size_must_divide_between_processes():
    plan = MixedBatchPlan([Source("x", 10)], 5)
    with pytest.raises(ValueError, match="multiple"):
        plan.local_batch(0, 0, 2)


def test_empty_source_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        MixedBatchPlan([Source("x", 0)], 4)
