"""tasks/common/partitions.plan_partitions: whole repositories, bounded sizes, cuts that a delta moves locally."""
from __future__ import annotations

import random

import pytest

from tasks.common.partitions import MAX_FACTOR, effective_target, plan_partitions


def _corpus(n: int, seed: int = 7) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [(f"repo-{i:06d}", int(rng.lognormvariate(10, 1.5)) + 1) for i in range(n)]


def _parts(items, ranges):
    return [tuple(k for k, _ in items[a:b]) for a, b in ranges]


def test_every_repository_lands_in_exactly_one_partition_in_order():
    items = _corpus(3000)
    ranges = plan_partitions(items, 2 << 20)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(items)
    assert all(a < b for a, b in ranges) and all(ranges[i][1] == ranges[i + 1][0] for i in range(len(ranges) - 1))


def test_no_partition_passes_max_factor_times_the_target_unless_one_repository_does():
    items = _corpus(3000)
    target = 2 << 20
    for a, b in plan_partitions(items, target):
        size = sum(s for _, s in items[a:b])
        assert size <= MAX_FACTOR * target or b - a == 1, (a, b, size)
    big = [("a", 10), ("b", 10 * target), ("c", 10)]
    assert [b - a for a, b in plan_partitions(big, target)] in ([1, 1, 1], [2, 1], [1, 2])


def test_the_largest_partition_does_not_grow_with_the_corpus():
    """Memory follows the largest partition: it is bounded by the target, not by the number of partitions."""
    target = 1 << 20
    largest = {}
    for n in (600, 12_000):
        items = [(k, min(s, target // 4)) for k, s in _corpus(n, seed=n)]  # no repository over the target
        largest[n] = max(sum(s for _, s in items[a:b]) for a, b in plan_partitions(items, target))
    assert largest[12_000] <= MAX_FACTOR * target
    assert largest[12_000] <= 1.25 * largest[600]


def test_a_new_repository_moves_only_the_partitions_around_it():
    items = _corpus(4000)
    before = _parts(items, plan_partitions(items, 2 << 20))
    added = sorted(items + [("repo-002000a", 50_000)])
    after = _parts(added, plan_partitions(added, 2 << 20))
    changed = set(after) - set(before)
    assert 1 <= len(changed) <= 4, len(changed)
    assert len(set(before) & set(after)) >= len(before) - 4


def test_a_small_corpus_still_gets_min_partitions():
    items = _corpus(200)
    total = sum(s for _, s in items)
    assert effective_target(total, 1 << 40, 4) == total // 4
    assert len(plan_partitions(items, 1 << 40, min_partitions=4)) >= 4


def test_unsorted_or_duplicate_keys_are_refused():
    with pytest.raises(ValueError, match="sorted"):
        plan_partitions([("b", 1), ("a", 1)], 10)
    with pytest.raises(ValueError, match="sorted"):
        plan_partitions([("a", 1), ("a", 1)], 10)
