"""From signatures to decisions: LSH candidates, verification, union-find clusters, one repo kept each.

Candidates come from the LSH index; each pair is verified - by exact Jaccard of the two shingle sets
(recomputed for candidate repos only) or by the signatures' estimate - and verified pairs are joined
into clusters by union-find. In each cluster the best repo by the configured rank (default: stars
desc, size desc, repo id asc) is kept and the others are dropped whole. Everything is ordered by repo
id before use, so the result does not depend on shard order, worker count or storage backend.
"""
from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa

from tasks.common.io import write_parquet
from tasks.dedup.config import Config
from tasks.dedup.index import candidate_pairs, insert_signatures, open_index, reset_index
from tasks.dedup.shards import SignatureTable, read_signatures
from tasks.dedup.signature import estimate_jaccard

ShingleLoader = Callable[[list[str]], dict[str, np.ndarray]]

CLUSTER_SCHEMA = pa.schema([
    pa.field("cluster", pa.int64(), nullable=False),
    pa.field("repo", pa.string(), nullable=False),
    pa.field("kept", pa.bool_(), nullable=False),
    pa.field("kept_repo", pa.string(), nullable=False),
    pa.field("est_jaccard", pa.float64()),       # repo vs kept_repo, from signatures
    pa.field("exact_jaccard", pa.float64()),     # repo vs kept_repo, shingle sets; null unless verify=exact
])

_PAIR_CHUNK = 4096


def prune_margin(threshold: float, num_perm: int) -> float:
    """Estimates this far below the threshold are not worth an exact check: 6 standard deviations of
    the MinHash estimator at the threshold, so a pair truly at or above it falls there with p < 1e-9."""
    return 6.0 * math.sqrt(threshold * (1.0 - threshold) / num_perm)


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of two sorted unique uint64 arrays."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return 0.0
    idx = np.minimum(np.searchsorted(b, a), len(b) - 1)
    inter = int(np.count_nonzero(b[idx] == a))
    return inter / (len(a) + len(b) - inter)


def pair_estimates(sigs: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    out = np.empty(len(pairs), dtype=np.float64)
    for lo in range(0, len(pairs), _PAIR_CHUNK):
        chunk = pairs[lo:lo + _PAIR_CHUNK]
        out[lo:lo + len(chunk)] = estimate_jaccard(sigs[chunk[:, 0]], sigs[chunk[:, 1]])
    return out


def verify_pairs(pairs: np.ndarray, repos: Sequence[str], sigs: np.ndarray, cfg: Config,
                 shingles_loader: ShingleLoader | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any],
                                                                  dict[str, np.ndarray]]:
    """(similar mask, estimates, exact values or NaN, stats, loaded shingle sets) for candidate pairs."""
    est = pair_estimates(sigs, pairs)
    exact = np.full(len(pairs), np.nan)
    stats: dict[str, Any] = {"candidate_pairs": int(len(pairs))}
    if cfg.verify == "estimate":
        stats["pairs_verified_estimate"] = int(len(pairs))
        return est >= cfg.threshold, est, exact, stats, {}
    if shingles_loader is None:
        raise ValueError("dedup.verify=exact needs a shingles_loader (e.g. shards.shard_shingle_loader)")
    worth = est >= cfg.threshold - prune_margin(cfg.threshold, cfg.num_perm)
    stats["pairs_pruned_by_estimate"] = int(np.count_nonzero(~worth))
    need = np.unique(pairs[worth].ravel()) if worth.any() else np.zeros(0, dtype=np.int64)
    sets = shingles_loader([repos[i] for i in need]) if len(need) else {}
    stats["repos_loaded_for_exact"] = len(sets)
    fallback = 0
    for k in np.flatnonzero(worth):
        a, b = repos[pairs[k, 0]], repos[pairs[k, 1]]
        if a in sets and b in sets:
            exact[k] = exact_jaccard(sets[a], sets[b])
        else:
            fallback += 1            # text not found: judge this pair by its estimate
    stats["pairs_verified_exact"] = int(np.count_nonzero(~np.isnan(exact)))
    stats["pairs_estimate_fallback"] = fallback
    similar = np.where(np.isnan(exact), est >= cfg.threshold, exact >= cfg.threshold) & worth
    return similar, est, exact, stats, sets


class UnionFind:
    """Disjoint sets over 0..n-1; the smaller index becomes the root, so results are order-free."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        """Components with more than one member, each sorted, ordered by smallest member."""
        members: dict[int, list[int]] = {}
        for x in range(len(self.parent)):
            members.setdefault(self.find(x), []).append(x)
        return [m for _, m in sorted(members.items()) if len(m) > 1]


def rank_key(cfg: Config, repo: str, size: int, stars: int | None, n_shingles: int) -> tuple:
    """Smaller is better: stars, size and n_shingles descend (unknown stars rank last), repo ascends."""
    parts: list[Any] = []
    for key in cfg.rank:
        if key == "stars":
            parts.append(-(stars if stars is not None else -1))
        elif key == "size":
            parts.append(-int(size))
        elif key == "n_shingles":
            parts.append(-int(n_shingles))
        else:
            parts.append(repo)
    return tuple(parts)


def _decide(table: SignatureTable, idx: np.ndarray, pairs: np.ndarray, similar: np.ndarray, cfg: Config,
            sets: dict[str, np.ndarray]) -> tuple[list[dict[str, Any]], list[str], Counter]:
    """Clusters of the similar pairs (indices into idx), the kept repo of each, the table rows."""
    uf = UnionFind(len(idx))
    for i, j in pairs[similar]:
        uf.union(int(i), int(j))
    clusters = []
    for members in uf.groups():
        rows = [int(idx[m]) for m in members]
        best = min(rows, key=lambda r: rank_key(cfg, table.repos[r], table.size[r], table.stars[r],
                                                 table.n_shingles[r]))
        clusters.append((table.repos[best], best, rows))
    clusters.sort()
    out: list[dict[str, Any]] = []
    dropped: list[str] = []
    sizes: Counter = Counter()
    for cid, (kept_repo, best, rows) in enumerate(clusters):
        sizes[len(rows)] += 1
        for r in sorted(rows, key=lambda r: (r != best, table.repos[r])):
            repo = table.repos[r]
            if r == best:
                est, exact = 1.0, (1.0 if cfg.verify == "exact" else None)
            else:
                est = float(estimate_jaccard(table.sigs[r], table.sigs[best]))
                exact = None
                if cfg.verify == "exact" and repo in sets and kept_repo in sets:
                    exact = exact_jaccard(sets[repo], sets[kept_repo])
                dropped.append(repo)
            out.append({"cluster": cid, "repo": repo, "kept": r == best, "kept_repo": kept_repo,
                        "est_jaccard": round(est, 6), "exact_jaccard": None if exact is None else round(exact, 6)})
    return out, sorted(dropped), sizes


def cluster(sig_paths: Iterable[str | Path], cfg: Config, shingles_loader: ShingleLoader | None = None,
            *, index_prebuilt: bool = False) -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    """Cluster near-duplicate repositories from signature shards.

    Returns (cluster table rows - only clusters of 2+ repos -, sorted ids of dropped repos, stats).
    With Redis storage the index under `storage.basename` is cleared and filled here, unless workers
    already filled it with `index.insert_signatures` (`index_prebuilt=True`).
    """
    t0 = time.perf_counter()
    table = read_signatures(sig_paths, cfg)
    idx = np.flatnonzero(table.has_sig)
    repos = [table.repos[i] for i in idx]
    sigs = table.sigs[idx]
    t_read = time.perf_counter()
    lsh = open_index(cfg)
    if not index_prebuilt:
        reset_index(cfg)
        insert_signatures(lsh, repos, sigs, cfg.seed)
    t_index = time.perf_counter()
    pairs = candidate_pairs(lsh, repos, sigs)
    t_cand = time.perf_counter()
    similar, est, exact, vstats, sets = verify_pairs(pairs, repos, sigs, cfg, shingles_loader)
    t_verify = time.perf_counter()
    rows, dropped, sizes = _decide(table, idx, pairs, similar, cfg, sets)
    bands, lsh_rows = cfg.lsh
    kept_of = {r["repo"]: r for r in rows if not r["kept"]}
    size_of = dict(zip(table.repos, table.size.tolist()))
    stats: dict[str, Any] = {
        "repos_in": len(table.repos),
        "repos_indexed": len(repos),
        "repos_without_signature": dict(sorted(Counter(
            "error" if why.startswith("error") else why for why in table.reasons.values()).items())),
        "duplicate_repo_ids": table.duplicates,
        "lsh": {"bands": bands, "rows": lsh_rows, "storage": cfg.storage.type},
        "threshold": cfg.threshold,
        "verify": cfg.verify,
        **vstats,
        "similar_pairs": int(np.count_nonzero(similar)),
        "clusters": len({r["cluster"] for r in rows}),
        "repos_in_clusters": len(rows),
        "repos_dropped": len(dropped),
        "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())},
        "dropped": [{"repo": repo, "kept_repo": kept_of[repo]["kept_repo"], "cluster": kept_of[repo]["cluster"],
                     "est_jaccard": kept_of[repo]["est_jaccard"], "exact_jaccard": kept_of[repo]["exact_jaccard"],
                     "size": int(size_of[repo])} for repo in dropped],
        "seconds": {"read": round(t_read - t0, 4), "index": round(t_index - t_read, 4),
                    "candidates": round(t_cand - t_index, 4), "verify": round(t_verify - t_cand, 4),
                    "total": round(time.perf_counter() - t0, 4)},
    }
    return rows, dropped, stats


def write_clusters(rows: list[dict[str, Any]], path: str | Path) -> None:
    """data/dedup_clusters.parquet (docs/contracts.md), atomically."""
    columns = {f.name: [r[f.name] for r in rows] for f in CLUSTER_SCHEMA}
    write_parquet(pa.table(columns, schema=CLUSTER_SCHEMA), path)
