from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import dedup_corpus
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dedup_corpus import write_ordered

from tasks.common.io import list_shards, shard_name, write_parquet
from tasks.dedup import (aggregate, apply_shard, cluster, config_from_params, shard_shingle_loader,
                         signatures_shard, write_clusters)
from tasks.dedup.cluster import CLUSTER_SCHEMA, UnionFind
from tasks.dedup.index import candidate_pairs, insert_signatures, open_index
from tasks.dedup.shards import read_signatures


@pytest.fixture
def corpus():
    """Repos: a near-duplicate family, an exact pair, a size-ranked pair, unrelated repos, an empty one."""
    t = dedup_corpus
    rnd = random.Random(7)
    vocab = t.vocabulary()
    base = t.code_like(rnd, vocab, 1600)
    other = t.code_like(rnd, vocab, 1600)
    lib = t.code_like(rnd, vocab, 900)
    repos = {
        "git/alpha@1": [t.render(base[:800]), t.render(base[800:])],
        "git/alpha-fork@1": [t.render(base[:800], random.Random(1)), t.render(base[800:], random.Random(2))],
        "git/alpha-edit@1": [t.render(t.mutate(base, 0.004, rnd, vocab))],
        "git/beta@1": [t.render(other)],
        "pypi/lib@1.0": [t.render(lib)],
        "pypi/lib@1.1": [t.render(lib), t.render(lib[:40])],           # same + a little more: bigger
        "npm/same-a@1": [t.render(lib[:500])],
        "npm/same-b@1": [t.render(lib[:500])],
        "local/empty": ["", "   \n"],
    }
    stars = {"git/alpha@1": 3, "git/alpha-fork@1": 40, "git/alpha-edit@1": 40, "git/beta@1": 40}
    return repos, stars


def run_stage(tmp: Path, repos, stars, n_shards: int, section: dict | None = None, reverse: bool = False):
    """The stage as the flow runs it: signatures per shard, cluster, apply per shard."""
    cfg = config_from_params(section or {})
    ordered = tmp / "ordered"
    if not ordered.exists():
        write_ordered(ordered, repos, n_shards, stars)
    in_paths = list_shards(ordered)
    sig_paths, sig_stats = [], []
    for p in in_paths:
        sig = tmp / "sigs" / p.name
        sig_stats.append(signatures_shard(p, sig, cfg))
        sig_paths.append(sig)
    order = list(reversed(sig_paths)) if reverse else sig_paths
    rows, drop, stats = cluster(order, cfg, shard_shingle_loader(in_paths, cfg))
    apply_stats = []
    for p in in_paths:
        apply_stats.append(apply_shard(p, tmp / "deduped" / p.name, drop))
    return cfg, rows, drop, stats, sig_stats, apply_stats


def _kept_of(rows):
    return {r["repo"]: r["kept_repo"] for r in rows}


def test_near_duplicates_cluster_distinct_repos_do_not(tmp_path, corpus):
    repos, stars = corpus
    cfg, rows, drop, stats, _, _ = run_stage(tmp_path, repos, stars, 3)
    kept_of = _kept_of(rows)
    # identical (fork) and near-identical (0.4% tokens edited) repos share one cluster
    assert kept_of["git/alpha@1"] == kept_of["git/alpha-fork@1"] == kept_of["git/alpha-edit@1"]
    assert kept_of["npm/same-a@1"] == kept_of["npm/same-b@1"]
    # unrelated repos and the empty repo are not clustered with anything
    assert "git/beta@1" not in kept_of and "local/empty" not in kept_of
    assert set(drop) == {r["repo"] for r in rows if not r["kept"]}
    assert len({r["cluster"] for r in rows}) == 3
    for r in rows:
        if not r["kept"]:
            assert r["exact_jaccard"] >= cfg.threshold
            assert abs(r["est_jaccard"] - r["exact_jaccard"]) < 0.15
    assert stats["repos_without_signature"] == {"empty": 1}
    assert stats["pairs_verified_exact"] >= 4


def test_ranking_stars_then_size_then_repo_id(tmp_path, corpus):
    repos, stars = corpus
    _, rows, drop, _, _, _ = run_stage(tmp_path, repos, stars, 2)
    kept_of = _kept_of(rows)
    # stars 40 beat 3; between the two 40-star repos the bigger text wins (fork renders the full base)
    fork_size = sum(len(s.encode()) for s in repos["git/alpha-fork@1"])
    edit_size = sum(len(s.encode()) for s in repos["git/alpha-edit@1"])
    expected = "git/alpha-fork@1" if fork_size > edit_size else "git/alpha-edit@1"
    assert kept_of["git/alpha@1"] == expected
    assert kept_of["pypi/lib@1.0"] == "pypi/lib@1.1"        # no stars: size decides
    assert kept_of["npm/same-b@1"] == "npm/same-a@1"        # all equal: repo id ascending
    assert "git/alpha@1" in drop and "npm/same-a@1" not in drop


def test_rank_order_is_configurable(tmp_path, corpus):
    repos, stars = corpus
    _, rows, _, _, _, _ = run_stage(tmp_path, repos, stars, 2, {"rank": ["repo"]})
    assert _kept_of(rows)["git/alpha-fork@1"] == "git/alpha-edit@1"   # alphabetical first
    _, rows, _, _, _, _ = run_stage(tmp_path, repos, stars, 2, {"rank": ["size", "stars"]})
    assert _kept_of(rows)["pypi/lib@1.0"] == "pypi/lib@1.1"


def test_whole_repos_dropped_and_kept_rows_unchanged(tmp_path, corpus):
    repos, stars = corpus
    _, rows, drop, _, _, apply_stats = run_stage(tmp_path, repos, stars, 3)
    before = {p.name: pq.read_table(p) for p in list_shards(tmp_path / "ordered")}
    after = {p.name: pq.read_table(p) for p in list_shards(tmp_path / "deduped")}
    assert set(before) == set(after)
    for name, table in before.items():
        out = after[name]
        assert out.schema == table.schema
        expected = [r for r in table.to_pylist() if r["repo"] not in set(drop)]
        assert out.to_pylist() == expected                   # rows of kept repos: all of them, unchanged
    remaining = {r for t in after.values() for r in t.column("repo").to_pylist()}
    assert remaining.isdisjoint(drop)
    assert remaining | set(drop) == set(repos)
    assert sum(s["repos_dropped"] for s in apply_stats) == len(drop)


def test_deterministic_across_shard_counts_and_orders(tmp_path, corpus):
    repos, stars = corpus
    results = []
    for n_shards, reverse in ((1, False), (3, False), (3, True), (5, True)):
        _, rows, drop, _, _, _ = run_stage(tmp_path / f"run{n_shards}{reverse}", repos, stars, n_shards,
                                           reverse=reverse)
        results.append((rows, drop))
    assert all(r == results[0] for r in results[1:])
    # and the written files are byte-identical for the same input
    for run in ("run3False", "run3True"):
        write_clusters(results[0][0], tmp_path / run / "clusters.parquet")
    assert (tmp_path / "run3False/clusters.parquet").read_bytes() == (tmp_path / "run3True/clusters.parquet").read_bytes()
    for i in range(3):
        name = shard_name(i)
        for sub in ("sigs", "deduped"):
            assert (tmp_path / "run3False" / sub / name).read_bytes() == (tmp_path / "run3True" / sub / name).read_bytes()


def test_estimate_verification_needs_no_texts(tmp_path, corpus):
    repos, stars = corpus
    cfg = config_from_params({"verify": "estimate"})
    paths = write_ordered(tmp_path / "ordered", repos, 2, stars)
    sigs = []
    for p in paths:
        signatures_shard(p, tmp_path / p.name, cfg)
        sigs.append(tmp_path / p.name)
    rows, drop, stats = cluster(sigs, cfg)                      # no shingles loader needed
    assert all(r["exact_jaccard"] is None for r in rows)
    assert {"git/alpha@1", "pypi/lib@1.0", "npm/same-b@1"} <= set(drop)
    assert "pairs_verified_exact" not in stats
    with pytest.raises(ValueError, match="shingles_loader"):
        cluster(sigs, dataclasses.replace(cfg, verify="exact"))


def test_candidate_pairs_match_lsh_query(tmp_path, corpus, monkeypatch):
    import tasks.dedup.index as index_mod
    monkeypatch.setattr(index_mod, "_LOOKUP_BATCH", 3)        # several lookup batches per band
    repos, stars = corpus
    cfg = config_from_params({"threshold": 0.5})
    paths = write_ordered(tmp_path / "ordered", repos, 1, stars)
    signatures_shard(paths[0], tmp_path / "sig.parquet", cfg)
    table = read_signatures([tmp_path / "sig.parquet"], cfg)
    keep = table.has_sig
    names = [r for r, ok in zip(table.repos, keep) if ok]
    sigs = table.sigs[keep]
    lsh = open_index(cfg)
    insert_signatures(lsh, names, sigs, cfg.seed)
    pairs = {(names[i], names[j]) for i, j in candidate_pairs(lsh, names, sigs)}
    from tasks.dedup.signature import to_lean
    via_query = set()
    for name, s in zip(names, sigs):
        for other in lsh.query(to_lean(s, cfg.seed)):
            other = other.decode()
            if other > name:
                via_query.add((name, other))
    assert pairs == via_query and pairs


def test_bad_rows_are_recorded_not_fatal(tmp_path):
    t = dedup_corpus
    text = t.render(t.code_like(random.Random(1), t.vocabulary(), 300))
    rows = [
        {"repo": None, "sample": 0, "text": text, "stars": None},
        {"repo": "a", "sample": 1, "text": None, "stars": 5},
        {"repo": "a", "sample": 0, "text": text, "stars": None},
        {"repo": "b", "sample": 0, "text": text, "stars": 1},
    ]
    path = tmp_path / "part-00000.parquet"
    write_parquet(pa.Table.from_pylist(rows, schema=dedup_corpus.ORDERED_SCHEMA), path)
    cfg = config_from_params({})
    st = signatures_shard(path, tmp_path / "sig.parquet", cfg)
    assert st["rows_without_repo"] == 1 and st["repos"] == 2 and st["errors"] == 0
    sig = pq.read_table(tmp_path / "sig.parquet").to_pylist()
    assert [r["repo"] for r in sig] == ["a", "b"] and sig[0]["stars"] == 5 and sig[0]["n_samples"] == 2
    out, drop, _ = cluster([tmp_path / "sig.parquet"], cfg, shard_shingle_loader([path], cfg))
    assert drop == ["b"] and _kept_of(out)["b"] == "a"      # a: 5 stars beats 1


def test_union_find_is_order_free():
    edges = [(0, 3), (5, 4), (3, 6), (1, 2)]
    groups = []
    for perm in (edges, edges[::-1], sorted(edges, key=lambda e: -e[1])):
        uf = UnionFind(8)
        for a, b in perm:
            uf.union(a, b)
        groups.append(uf.groups())
    assert groups[0] == groups[1] == groups[2] == [[0, 3, 6], [1, 2], [4, 5]]


def test_metrics_and_cluster_table(tmp_path, corpus):
    repos, stars = corpus
    cfg, rows, drop, stats, sig_stats, apply_stats = run_stage(tmp_path, repos, stars, 2)
    metrics = aggregate(sig_stats, stats, apply_stats, cfg)
    json.dumps(metrics)
    assert metrics["repos_in"] == len(repos)
    assert metrics["repos_dropped"] == len(drop) == metrics["repos_in"] - metrics["repos_kept"]
    assert metrics["dropped_share"] == pytest.approx(len(drop) / len(repos), abs=1e-6)
    dropped_bytes = sum(len(s.encode()) for r in drop for s in repos[r])
    assert metrics["bytes_dropped"] == dropped_bytes
    assert sum(int(k) * v for k, v in metrics["cluster_sizes"].items()) == len(rows)
    assert {d["repo"] for d in metrics["dropped"]} == set(drop)
    assert all(d["kept_repo"] not in drop for d in metrics["dropped"])
    assert metrics["gate"]["passed"] == (cfg.gate_dropped_share[0] <= metrics["dropped_share"]
                                         <= cfg.gate_dropped_share[1])
    write_clusters(rows, tmp_path / "clusters.parquet")
    table = pq.read_table(tmp_path / "clusters.parquet")
    assert table.schema.equals(CLUSTER_SCHEMA)
    assert table.num_rows == len(rows)
    assert np.all(np.array(table.column("kept").to_pylist()) == np.array([r["kept"] for r in rows]))
