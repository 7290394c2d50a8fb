"""Realise requested token shares by repeating or dropping whole documents, deterministically.

For each mixture (train, val, cool-down) and source g with available tokens c_g, the target is
t_g = w_g * T, where w is the requested weights renormalised over the sources that have data and
T is the total to produce (main splits: all available tokens of the weighted sources, so the mixture
changes the composition, not the size; cool-down: `cooldown.fraction` of the train tokens).
Every document of g gets floor(t_g / c_g) copies, plus one more if its hash draw is below a
threshold chosen so that the extra copies' tokens come as close as possible to the remainder
(within one document). A document's copy count therefore depends only on its own draw and the
per-source threshold, not on worker count or order.

The threshold is found in two passes with bounded memory: a 65,536-bin histogram of tokens by the
draw's top 16 bits, then an exact sort of the few documents in the bin where the target falls.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from tasks.pack.config import SOURCES

_BINS = 1 << 16
_SHIFT = np.uint64(48)
FULL = 1 << 64  # threshold meaning "every document"

# A group selector: index array -> boolean mask of the documents in the mixture's pool.
Selector = Callable[[np.ndarray], np.ndarray]


def selected(draws: np.ndarray, threshold: int) -> np.ndarray:
    if threshold >= FULL:
        return np.ones(draws.shape, dtype=bool)
    return draws < np.uint64(threshold)


def copies(index: np.ndarray, draw_field: str, source_plan: dict[str, dict[str, Any]]) -> np.ndarray:
    """Copies of each record (0 for sources without a plan)."""
    out = np.zeros(len(index), dtype=np.int64)
    for si, name in enumerate(SOURCES):
        sp = source_plan.get(name)
        if not sp or sp["target_tokens"] <= 0:
            continue
        m = index["source"] == si
        out[m] = sp["base"] + selected(index[draw_field][m], sp["threshold"]).astype(np.int64)
    return out


def _histograms(indexes: Iterable[np.ndarray], pool: Selector, draw_field: str) -> tuple[np.ndarray, np.ndarray]:
    hist = np.zeros((len(SOURCES), _BINS), dtype=np.int64)
    for index in indexes:
        sel = index[pool(index)]
        bins = (sel[draw_field] >> _SHIFT).astype(np.int64)
        for si in range(len(SOURCES)):
            m = sel["source"] == si
            if m.any():
                hist[si] += np.bincount(bins[m], weights=sel["ntok"][m].astype(np.float64), minlength=_BINS).astype(np.int64)
    return hist.sum(axis=1), hist


def plan_mixture(index_loader: Callable[[], Iterable[np.ndarray]], pool: Selector, draw_field: str,
                 weights: dict[str, float], total: int | None) -> dict[str, Any]:
    """Per-source copy rule for one mixture. `index_loader()` yields every unit's index (a fresh
    iterator each call); `total` None = all available tokens of the weighted sources."""
    avail, hist = _histograms(index_loader(), pool, draw_field)
    wsum = sum(weights.values())
    requested = {s: weights[s] / wsum for s in SOURCES}
    present = [s for i, s in enumerate(SOURCES) if requested[s] > 0 and avail[i] > 0]
    psum = sum(requested[s] for s in present)
    if total is None:
        total = int(sum(avail[SOURCES.index(s)] for s in present))
    plan: dict[str, Any] = {
        "requested": {s: round(w, 6) for s, w in requested.items()},
        # what can be realised: the requested weights renormalised over sources that have data
        "effective": {s: round(requested[s] / psum, 6) if s in present else 0.0 for s in SOURCES},
        "missing_sources": [s for s in SOURCES if requested[s] > 0 and s not in present],
        "total_target": int(total), "sources": {}}
    critical: dict[int, tuple[int, int, int]] = {}  # source -> (bin, tokens before bin, remainder)
    for si, s in enumerate(SOURCES):
        c = int(avail[si])
        target = total * requested[s] / psum if s in present else 0.0
        base = int(math.floor(target / c)) if c else 0
        rem = target - base * c if c else 0.0
        sp = {"available_tokens": c, "target_tokens": round(target, 3), "base": base, "threshold": 0,
              "multiplier": round(target / c, 6) if c else 0.0}
        if c and rem > 0:
            cum = np.cumsum(hist[si])
            b = int(np.searchsorted(cum, rem, side="left"))
            b = min(b, _BINS - 1)
            critical[si] = (b, int(cum[b] - hist[si][b]), rem)
        plan["sources"][s] = sp
    # second pass: exact threshold inside each critical bin
    if critical:
        found: dict[int, list[np.ndarray]] = {si: [] for si in critical}
        for index in index_loader():
            sel = index[pool(index)]
            bins = (sel[draw_field] >> _SHIFT).astype(np.int64)
            for si, (b, _, _) in critical.items():
                m = (sel["source"] == si) & (bins == b)
                if m.any():
                    found[si].append(np.stack([sel[draw_field][m], sel["ntok"][m].astype(np.uint64)], axis=1))
        for si, (b, before, rem) in critical.items():
            rows = np.concatenate(found[si]) if found[si] else np.zeros((0, 2), dtype=np.uint64)
            rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
            cum = before + np.concatenate([[0], np.cumsum(rows[:, 1].astype(np.int64))])
            k = int(np.argmin(np.abs(cum - rem)))  # first best: fewest extra copies on a tie
            if k < len(rows):
                threshold = int(rows[k, 0])
            else:
                threshold = FULL if b == _BINS - 1 else (b + 1) << 48
            plan["sources"][SOURCES[si]]["threshold"] = threshold
    return plan
