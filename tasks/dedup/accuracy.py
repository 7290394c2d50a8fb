"""How close LSH + verification comes to brute force, on a corpus small enough to compare every pair.

Ground truth is computed independently of the stage's hashing: the shingles are tuples of the actual
tokens (`bytes.split()` of the UTF-8 text) and every pair's exact Jaccard is checked against the
threshold. The stage's answer is its verified similar pairs (the edges of its clusters).
"""
from __future__ import annotations

import dataclasses
from itertools import combinations
from typing import Any

import numpy as np

from tasks.dedup.cluster import verify_pairs
from tasks.dedup.config import Config, StorageConfig
from tasks.dedup.index import candidate_pairs, insert_signatures, open_index
from tasks.dedup.shingles import document_shingles
from tasks.dedup.signature import signature

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
    """The stage's verified similar pairs for these documents (in-memory index whatever the storage)."""
    cfg = dataclasses.replace(cfg, storage=StorageConfig())
    sets = {k: document_shingles([docs[k]], cfg.shingle_size) for k in sorted(docs)}
    keys = [k for k in sets if len(sets[k])]
    sigs = np.array([signature(sets[k], cfg.num_perm, cfg.seed) for k in keys], dtype=np.uint32)
    sigs = sigs.reshape(len(keys), cfg.num_perm)
    lsh = open_index(cfg)
    insert_signatures(lsh, keys, sigs, cfg.seed)
    pairs = candidate_pairs(lsh, keys, sigs)
    similar, _, _, stats, _ = verify_pairs(pairs, keys, sigs, cfg, lambda repos: {r: sets[r] for r in repos})
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
