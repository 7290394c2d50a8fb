"""Mixture planning on synthetic indexes: targets met within one document, independent of units."""
from __future__ import annotations

import numpy as np

from tasks.pack.config import SOURCES
from tasks.pack.encode import INDEX_DTYPE
from tasks.pack.mixture import copies, plan_mixture


def _index(n: int, seed: int, shares=(0.8, 0.15, 0.05)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ix = np.zeros(n, dtype=INDEX_DTYPE)
    ix["mix"] = rng.integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, size=n).astype(np.uint64)
    ix["ntok"] = rng.integers(5, 400, size=n)
    ix["source"] = rng.choice(len(SOURCES), size=n, p=shares)
    return ix


def _tokens(ix: np.ndarray, n_copies: np.ndarray) -> dict[str, int]:
    return {s: int((ix["ntok"].astype(np.int64) * n_copies)[ix["source"] == i].sum()) for i, s in enumerate(SOURCES)}


def test_targets_met_within_one_document_and_unit_independent():
    ix = _index(6000, 1)
    weights = {"code": 0.5, "code_text": 0.3, "text": 0.2}
    everything = lambda i: np.ones(len(i), dtype=bool)  # noqa: E731
    one = plan_mixture(lambda: iter([ix]), everything, "mix", weights, None)
    parts = [ix[:1000], ix[1000:1001], ix[1001:4500], ix[4500:]]
    many = plan_mixture(lambda: iter(parts), everything, "mix", weights, None)
    assert one == many
    n = copies(ix, "mix", one["sources"])
    got = _tokens(ix, n)
    total = int(ix["ntok"].sum())
    assert one["total_target"] == total
    for s, w in weights.items():
        assert abs(got[s] - w * total) <= 400, s  # within one document's tokens
    # code was ~80% of the data: down-sampled to 0 or 1 copy; text ~5% -> 0.2/0.05: floor or floor+1
    code, text = ix["source"] == 0, ix["source"] == 2
    base = int(0.2 * total // int(ix["ntok"][text].sum()))
    assert base >= 3 and one["sources"]["text"]["base"] == base
    assert set(np.unique(n[code]).tolist()) == {0, 1} and set(np.unique(n[text]).tolist()) == {base, base + 1}


def test_explicit_total_missing_source_and_pool():
    ix = _index(3000, 2, shares=(0.7, 0.3, 0.0))
    pool = lambda i: i["ntok"] > 100  # noqa: E731
    plan = plan_mixture(lambda: iter([ix]), pool, "mix", {"code": 1, "code_text": 1, "text": 2}, 50_000)
    assert plan["missing_sources"] == ["text"] and plan["effective"] == {"code": 0.5, "code_text": 0.5, "text": 0.0}
    n = copies(ix, "mix", plan["sources"]) * pool(ix)
    got = _tokens(ix, n)
    assert got["text"] == 0
    assert abs(got["code"] - 25_000) <= 400 and abs(got["code_text"] - 25_000) <= 400
    assert not n[~pool(ix)].any()
