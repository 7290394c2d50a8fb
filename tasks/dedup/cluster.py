"""From candidate pairs to decisions: verification per partition, components, one repo kept each.

- `verify_job` (one per partition p): the candidate pairs whose first document is in p, judged by the
  signatures' estimate, then - for pairs whose estimate is within reach of the threshold - by the
  exact Jaccard of shingle sets recomputed from p and, one at a time, each partition the second
  documents live in (never more than two partitions' candidates in memory). Repositories larger than
  `exact_max_bytes` are judged by the estimate.
- `components_job`: connected components of the similar pairs (union-find by label propagation over
  the documents that have an edge), the best repository of each by the configured rank (stars desc,
  size desc, repo id asc), the clusters table and the drop list routed by partition.
- `apply_job` (one per partition): the partition without the dropped repositories.
Everything is ordered by ids, so the result depends on neither partition-to-worker assignment nor
worker count.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.common.io import write_parquet
from tasks.common.shuffle import column_array, read_range, write_sorted
from tasks.dedup.config import Config
from tasks.dedup.exact import dropped_files
from tasks.dedup.lsh import PAIRS_SCHEMA, partition_of, read_pairs, row_of
from tasks.dedup.rank import rank_key
from tasks.dedup.shards import apply_shard, load_shingles, read_signature_file, signature_rows
from tasks.dedup.signature import estimate_jaccard

CLUSTER_SCHEMA = pa.schema([
    pa.field("cluster", pa.int64(), nullable=False),
    pa.field("repo", pa.string(), nullable=False),
    pa.field("sample", pa.int32()),              # file granularity: the file's sample and path; else null
    pa.field("path", pa.string()),
    pa.field("kept", pa.bool_(), nullable=False),
    pa.field("kept_repo", pa.string(), nullable=False),
    pa.field("kept_path", pa.string()),
    pa.field("est_jaccard", pa.float64()),       # repo vs kept_repo, from signatures
    pa.field("exact_jaccard", pa.float64()),     # repo vs kept_repo, shingle sets; null unless that pair was verified exactly
])
SIMILAR_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("est", pa.float64()), ("exact", pa.float64())])
DROPS_SCHEMA = pa.schema([("pa", pa.int64()), ("repo", pa.string()), ("sample", pa.int32()), ("path", pa.string())])
DECISIONS_SCHEMA = pa.schema([("kind", pa.string()), ("repo", pa.string()), ("sample", pa.int32()),
                              ("path", pa.string())])  # kind: near (path null: the whole repository) | exact
TOP_DROPPED = 50  # largest dropped repositories listed in metrics (all of them are in the clusters table)


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


# ---------------------------------------------------------------- verification
def judge_pairs(est: np.ndarray, sizes_a: np.ndarray, sizes_b: np.ndarray, exact_of: Any,
                cfg: Config) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(similar mask, exact Jaccard or NaN) of candidate pairs given their estimates.

    `exact_of(indices) -> float array` computes the exact Jaccard of the chosen pairs (NaN where a
    text was not found); it is only asked for pairs worth it, of repos within exact_max_bytes."""
    n = len(est)
    exact = np.full(n, np.nan)
    stats = {"candidate_pairs": n, "pairs_pruned_by_estimate": 0, "pairs_verified_exact": 0,
             "pairs_verified_estimate": 0, "pairs_estimate_fallback": 0}
    if cfg.verify == "estimate" or not n:
        stats["pairs_verified_estimate"] = n
        return est >= cfg.threshold, exact, stats
    worth = est >= cfg.threshold - prune_margin(cfg.threshold, cfg.num_perm)
    small = (sizes_a <= cfg.exact_max_bytes) & (sizes_b <= cfg.exact_max_bytes)
    stats["pairs_pruned_by_estimate"] = int(np.count_nonzero(~worth))
    stats["pairs_verified_estimate"] = int(np.count_nonzero(worth & ~small))
    ask = np.flatnonzero(worth & small)
    if len(ask):
        exact[ask] = exact_of(ask)
    found = ~np.isnan(exact)
    stats["pairs_verified_exact"] = int(np.count_nonzero(found))
    stats["pairs_estimate_fallback"] = int(len(ask) - np.count_nonzero(found[ask]))
    similar = np.where(found, exact >= cfg.threshold, est >= cfg.threshold) & worth
    return similar, exact, stats


def route_pairs_job(inputs: tuple[str, ...], outs: dict[str, str], partition: int) -> dict[str, Any]:
    """Job body: the candidate pairs whose first document is in `partition`, from every range's pair file
    (unique, sorted), and the partitions their second documents live in."""
    pairs = read_pairs(inputs, partition)
    write_sorted(outs["pairs"], pa.table({"pa": pa.array(np.full(len(pairs), partition), pa.int64()),
                                          "a": pa.array(pairs[:, 0], pa.int64()), "b": pa.array(pairs[:, 1], pa.int64())},
                                         schema=PAIRS_SCHEMA), ["pa", "a", "b"])
    return {"pairs": int(len(pairs)), "partners": sorted(set(partition_of(pairs[:, 1]).tolist()) | {partition})
            if len(pairs) else []}


def decisions_job(inputs: tuple[str, ...], outs: dict[str, str], partition: int) -> dict[str, Any]:
    """Job body: what apply removes from `partition`: near-dedup drops (inputs[0], the components' drops
    file: whole repositories, or files) and exact copies (the exact groups' files, the rest)."""
    near = read_range([inputs[0]], "pa", partition, partition + 1, ["repo", "sample", "path"])
    exact = read_range(inputs[1:], "pa", partition, partition + 1, ["repo", "sample", "path"]) if len(inputs) > 1 \
        else DECISIONS_SCHEMA.empty_table().select(["repo", "sample", "path"])
    table = pa.concat_tables([
        pa.table({"kind": pa.array(["near"] * near.num_rows, pa.string()), **{c: near.column(c) for c in near.column_names}}),
        pa.table({"kind": pa.array(["exact"] * exact.num_rows, pa.string()), **{c: exact.column(c) for c in exact.column_names}}),
    ]).cast(DECISIONS_SCHEMA)
    write_sorted(outs["decisions"], table, ["kind", "repo", "sample", "path"])
    return {"near": near.num_rows, "exact": exact.num_rows}


def verify_job(inputs: tuple[str, ...], outs: dict[str, str], partition: int, sig_paths: Sequence[str],
               ordered_paths: Sequence[str], exact_files: Sequence[str], cfg: Config) -> dict[str, Any]:
    """Job body: the similar pairs among the candidates whose first document is in `partition`.

    `inputs[0]` is the partition's routed pair file; `sig_paths[q]` / `ordered_paths[q]` are partition q's
    signature and data/ordered files, `exact_files` the exact-dedup drop files. Shingle sets are
    recomputed for the pairs that need an exact check only: this partition's side once, then each
    other partition's side in turn."""
    exact = tuple(exact_files)

    def shingles(q: int, keys: set) -> dict:
        return load_shingles(ordered_paths[q], keys, cfg, dropped_files(exact, q) if exact else frozenset())

    pairs = read_pairs(inputs[:1], partition)
    if not len(pairs):
        write_parquet(SIMILAR_SCHEMA.empty_table(), outs["similar"])
        return {"candidate_pairs": 0, "similar_pairs": 0, "partitions_read": 0}
    own = read_signature_file(sig_paths[partition], cfg)
    a_keys, a_sizes, a_sigs = signature_rows(own, row_of(pairs[:, 0]), cfg.num_perm)
    est = np.empty(len(pairs))
    b_sizes = np.empty(len(pairs), dtype=np.int64)
    b_keys: list[Any] = [None] * len(pairs)
    others = partition_of(pairs[:, 1])
    groups = {q: np.flatnonzero(others == q) for q in np.unique(others).tolist()}
    for q, sel in groups.items():
        table = own if q == partition else read_signature_file(sig_paths[q], cfg)
        keys, sizes, sigs = signature_rows(table, row_of(pairs[sel, 1]), cfg.num_perm)
        est[sel] = estimate_jaccard(a_sigs[sel], sigs)
        b_sizes[sel] = sizes
        for k, i in enumerate(sel.tolist()):
            b_keys[i] = keys[k]

    def exact_of(ask: np.ndarray) -> np.ndarray:
        a_sets = shingles(partition, {a_keys[i] for i in ask})
        out = np.full(len(ask), np.nan)
        asked_in = others[ask]
        for q in np.unique(asked_in).tolist():
            idx = np.flatnonzero(asked_in == q)
            need = {b_keys[ask[k]] for k in idx}
            if q == partition:
                a_sets.update(shingles(q, need - set(a_sets)))
                b_sets = a_sets
            else:
                b_sets = shingles(q, need)
            for k in idx.tolist():
                x, y = a_keys[ask[k]], b_keys[ask[k]]
                if x in a_sets and y in b_sets:
                    out[k] = exact_jaccard(a_sets[x], b_sets[y])
        return out

    similar, exact, stats = judge_pairs(est, a_sizes, b_sizes, exact_of, cfg)
    keep = np.flatnonzero(similar)
    write_parquet(pa.table({"a": pa.array(pairs[keep, 0], pa.int64()), "b": pa.array(pairs[keep, 1], pa.int64()),
                            "est": pa.array(est[keep], pa.float64()),
                            "exact": pa.array(exact[keep], pa.float64(), mask=np.isnan(exact[keep]))},
                           schema=SIMILAR_SCHEMA), outs["similar"])
    return {**stats, "similar_pairs": int(len(keep)), "partitions_read": len(groups)}


# ---------------------------------------------------------------- components
def components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, label of each node): connected components of the edges a-b, labelled by their smallest node.

    Label propagation with pointer jumping over compact node indices: memory is the documents that
    have an edge, not the corpus."""
    nodes = np.unique(np.concatenate([a, b]))
    ia, ib = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    label = np.arange(len(nodes), dtype=np.int64)
    while True:
        low = np.minimum(label[ia], label[ib])
        before = label.copy()
        np.minimum.at(label, ia, low)
        np.minimum.at(label, ib, low)
        label = label[label]  # pointer jumping: follow labels to their own label
        if np.array_equal(label, before):
            return nodes, nodes[label]


def components_job(inputs: tuple[str, ...], outs: dict[str, str], sig_paths: Sequence[str],
                   cfg: Config) -> dict[str, Any]:
    """Job body: clusters from every partition's similar pairs; writes the clusters table and the drops."""
    tables = [pq.read_table(p).cast(SIMILAR_SCHEMA) for p in inputs]
    edges = pa.concat_tables(tables) if tables else SIMILAR_SCHEMA.empty_table()
    a, b = column_array(edges, "a", np.int64), column_array(edges, "b", np.int64)
    exact_col = edges.column("exact").to_pylist()
    exact_of = {(int(x), int(y)): e for x, y, e in zip(a, b, exact_col) if e is not None}
    rows: list[dict[str, Any]] = []
    drops: list[tuple[int, str]] = []
    sizes: Counter[int] = Counter()
    dropped_info: list[dict[str, Any]] = []
    if len(a):
        nodes, labels = components(a, b)
        info = _member_info(nodes, sig_paths, cfg)
        groups: dict[int, list[int]] = {}
        for node, lab in zip(nodes.tolist(), labels.tolist()):
            groups.setdefault(lab, []).append(node)
        clusters = []
        for members in groups.values():
            best = min(members, key=lambda n: _doc_rank(cfg, info[n]))
            clusters.append((_sort_key(info[best]["key"]), best, members))
        clusters.sort(key=lambda c: c[0])
        for cid, (_, best, members) in enumerate(clusters):
            sizes[len(members)] += 1
            kept_repo, _, kept_path = info[best]["key"]
            for n in sorted(members, key=lambda n: (n != best, _sort_key(info[n]["key"]))):
                repo, sample, path = info[n]["key"]
                if n == best:
                    est, ex = 1.0, (1.0 if cfg.verify == "exact" else None)
                else:
                    est = float(estimate_jaccard(info[n]["sig"], info[best]["sig"]))
                    ex = exact_of.get((min(n, best), max(n, best)))
                    drops.append((int(partition_of(np.int64(n))), repo, sample, path))
                    dropped_info.append({"repo": repo, "path": path, "kept_repo": kept_repo, "kept_path": kept_path,
                                         "cluster": cid,
                                         "est_jaccard": round(est, 6),
                                         "exact_jaccard": None if ex is None else round(ex, 6),
                                         "size": int(info[n]["size"])})
                rows.append({"cluster": cid, "repo": repo, "sample": sample, "path": path, "kept": n == best,
                             "kept_repo": kept_repo, "kept_path": kept_path, "est_jaccard": round(est, 6),
                             "exact_jaccard": None if ex is None else round(ex, 6)})
    write_parquet(pa.Table.from_pylist(rows, schema=CLUSTER_SCHEMA), outs["clusters"])
    write_sorted(outs["drops"], pa.table({name: [d[i] for d in drops] for i, name in enumerate(DROPS_SCHEMA.names)},
                                         schema=DROPS_SCHEMA), ["pa", "repo", "sample", "path"])
    dropped_info.sort(key=lambda d: (-d["size"], d["repo"], d["path"] or ""))
    return {"similar_pairs": int(len(a)), "clusters": len({r["cluster"] for r in rows}),
            "repos_in_clusters": len(rows), "repos_dropped": len(drops),
            "cluster_sizes": {str(k): v for k, v in sorted(sizes.items())},
            "dropped_top": dropped_info[:TOP_DROPPED]}


def _sort_key(key: tuple) -> tuple:
    repo, sample, path = key
    return repo, -1 if sample is None else sample, path or ""


def _doc_rank(cfg: Config, info: dict[str, Any]) -> tuple:
    """The configured rank, then (for files) path and sample: a total order, so the kept copy is unique."""
    return rank_key(cfg, info["key"][0], info["size"], info["stars"], info["n_shingles"]) + _sort_key(info["key"])


def _member_info(nodes: np.ndarray, sig_paths: Sequence[str], cfg: Config) -> dict[int, dict[str, Any]]:
    """Key, size, stars, shingle count and signature of every document in a cluster."""
    info: dict[int, dict[str, Any]] = {}
    parts = partition_of(nodes)
    for q in np.unique(parts).tolist():
        sel = nodes[parts == q]
        table = read_signature_file(sig_paths[q], cfg).take(pa.array(row_of(sel), pa.int64()))
        keys, sizes, sigs = signature_rows(table, np.arange(table.num_rows), cfg.num_perm)
        stars = table.column("stars").to_pylist()
        shingles = table.column("n_shingles").fill_null(0).to_pylist()
        for i, node in enumerate(sel.tolist()):
            info[node] = {"key": keys[i], "size": int(sizes[i]), "stars": stars[i], "n_shingles": int(shingles[i]),
                          "sig": sigs[i]}
    return info


def apply_job(inputs: tuple[str, ...], outs: dict[str, str]) -> dict[str, Any]:
    """Job body: a data/ordered partition (inputs[0]) without what its decisions file (inputs[1]) names."""
    decisions = pq.read_table(inputs[1])
    rows = zip(decisions.column("kind").to_pylist(), decisions.column("repo").to_pylist(),
               decisions.column("sample").to_pylist(), decisions.column("path").to_pylist())
    repos, files, exact = [], set(), set()
    for kind, repo, sample, path in rows:
        if kind == "exact":
            exact.add((repo, sample, path))
        elif path is None:
            repos.append(repo)
        else:
            files.add((repo, sample, path))
    return apply_shard(inputs[0], outs["out"], repos, frozenset(files), frozenset(exact))
