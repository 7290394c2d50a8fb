"""How close LSH + verification comes to brute force, on a corpus small enough to compare every pair.

Ground truth is computed independently of the stage's hashing: the shingles are tuples of the actual
tokens (`bytes.split()` of the UTF-8 text) and every pair's exact Jaccard is checked against the
threshold. The stage's answer is its verified similar pairs (the edges of its clusters).
"""
from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from tasks.dedup.cluster import exact_jaccard, judge_pairs
from tasks.dedup.config import Config
from tasks.dedup.lsh import band_keys, bucket_pairs
from tasks.dedup.shingles import document_shingles
from tasks.dedup.signature import estimate_jaccard, signature

_EXAMPLES = 10


def true_shingles(text: str, size: int) -> set[tuple[bytes, ...]]:
    tokens = text.encode("utf-8", "surrogatepass").split()
    if not tokens:
        return set()
    k = min(size, len(tokens))
    return {tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1)}


def all_jaccards(docs: dict[str, str], size: int) -> dict[tuple[str, str], float]:
    """Exact Jaccard of every pair of non-empty documents (keys sorted within and across pairs)."""
    sets = {k: true_shingles(docs[k], size) for k in sorted(docs)}
    out = {}
    for a, b in combinations([k for k in sets if sets[k]], 2):
        inter = len(sets[a] & sets[b])
        out[(a, b)] = inter / (len(sets[a]) + len(sets[b]) - inter)
    return out


def true_pairs(docs: dict[str, str], cfg: Config) -> dict[tuple[str, str], float]:
    """Every pair of non-empty documents with exact Jaccard >= threshold, with its Jaccard."""
    return {pair: j for pair, j in all_jaccards(docs, cfg.shingle_size).items() if j >= cfg.threshold}


def found_pairs(docs: dict[str, str], cfg: Config) -> tuple[set[tuple[str, str]], dict[str, Any]]:
    """The stage's verified similar pairs for these documents: the same band keys, bucket pairing and
    judgement as the partition jobs, in memory."""
    sets = {k: document_shingles([docs[k]], cfg.shingle_size) for k in sorted(docs)}
    keys = [k for k in sets if len(sets[k])]
    sigs = np.array([signature(sets[k], cfg.num_perm, cfg.seed) for k in keys], dtype=np.uint32)
    sigs = sigs.reshape(len(keys), cfg.num_perm)
    bands, rows = cfg.lsh
    buckets = band_keys(sigs, bands, rows).reshape(-1)
    ids = np.repeat(np.arange(len(keys), dtype=np.int64), bands)
    pairs, _ = bucket_pairs(buckets, ids, cfg.max_bucket)
    est = estimate_jaccard(sigs[pairs[:, 0]], sigs[pairs[:, 1]]) if len(pairs) else np.zeros(0)
    size = np.array([len(docs[k].encode("utf-8", "surrogatepass")) for k in keys], dtype=np.int64)

    def exact_of(ask: np.ndarray) -> np.ndarray:
        return np.array([exact_jaccard(sets[keys[pairs[k, 0]]], sets[keys[pairs[k, 1]]]) for k in ask])

    similar, _, stats = judge_pairs(est, size[pairs[:, 0]], size[pairs[:, 1]], exact_of, cfg)
    return {(keys[i], keys[j]) for i, j in pairs[similar]}, stats


def accuracy_check(docs: dict[str, str], cfg: Config) -> dict[str, Any]:
    """Precision and recall of the stage's similar pairs against exact all-pairs Jaccard.

    With no true pairs recall is 1.0; with no found pairs precision is 1.0 (nothing wrong was found).
    """
    jaccards = all_jaccards(docs, cfg.shingle_size)
    truth = {pair for pair, j in jaccards.items() if j >= cfg.threshold}
    found, stats = found_pairs(docs, cfg)
    correct = found & truth
    bands, rows = cfg.lsh
    missed = sorted(truth - found)
    wrong = sorted(found - truth)
    errors = [abs(jaccards.get(pair, 0.0) - cfg.threshold) for pair in missed + wrong]
    return {
        "precision": len(correct) / len(found) if found else 1.0,
        "recall": len(correct) / len(truth) if truth else 1.0,
        "pairs_true": len(truth),
        "pairs_found": len(found),
        "pairs_correct": len(correct),
        "candidate_pairs": stats["candidate_pairs"],
        "docs": len(docs),
        "threshold": cfg.threshold, "verify": cfg.verify, "bands": bands, "rows": rows,
        "error_max_distance": round(max(errors), 4) if errors else 0.0,   # |Jaccard - threshold| of the worst miss
        "missed": [[a, b, round(jaccards[(a, b)], 4)] for a, b in missed[:_EXAMPLES]],
        "wrong": [[a, b, round(jaccards.get((a, b), 0.0), 4)] for a, b in wrong[:_EXAMPLES]],
    }
