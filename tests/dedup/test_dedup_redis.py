"""Redis-backed LSH (a real redis-server on a free local port) decides exactly as the in-memory index."""
from __future__ import annotations

import random

import dedup_corpus as t
import pytest
from dedup_corpus import write_ordered

from tasks.dedup import (cluster, config_from_params, index_shard, reset_index, shard_shingle_loader,
                         signatures_shard)


@pytest.fixture
def shards(tmp_path):
    rnd = random.Random(11)
    vocab = t.vocabulary()
    repos, stars = {}, {}
    for fam in range(5):
        base = t.code_like(rnd, vocab, 700)
        for v, rate in enumerate((0.0, 0.003, 0.01, 0.05)):
            name = f"git/fam{fam}-v{v}@1"
            repos[name] = [t.render(t.mutate(base, rate, rnd, vocab))]
            stars[name] = rnd.choice([None, 1, 5])
    in_paths = write_ordered(tmp_path / "ordered", repos, 3, stars)
    return tmp_path, in_paths


def _signatures(tmp_path, in_paths, cfg):
    sig_paths = []
    for p in in_paths:
        signatures_shard(p, tmp_path / "sigs" / p.name, cfg)
        sig_paths.append(tmp_path / "sigs" / p.name)
    return sig_paths


@pytest.mark.parametrize("verify", ["exact", "estimate"])
def test_redis_index_matches_memory_index(shards, redis_server, verify):
    tmp_path, in_paths = shards
    memory = config_from_params({"verify": verify})
    redis_cfg = config_from_params({"verify": verify, "storage": {
        "type": "redis", "host": redis_server["host"], "port": redis_server["port"], "basename": f"t_{verify}"}})
    sig_paths = _signatures(tmp_path, in_paths, memory)
    loader = shard_shingle_loader(in_paths, memory)
    rows_m, drop_m, stats_m = cluster(sig_paths, memory, loader)
    rows_r, drop_r, stats_r = cluster(sig_paths, redis_cfg, loader)
    assert drop_m and rows_r == rows_m and drop_r == drop_m
    assert stats_r["candidate_pairs"] == stats_m["candidate_pairs"]
    assert stats_r["lsh"]["storage"] == "redis"
    assert redis_server["client"].exists(b"t_" + verify.encode() + b"_keys")


def test_workers_fill_shared_index_then_cluster(shards, redis_server):
    tmp_path, in_paths = shards
    cfg = config_from_params({"storage": {"type": "redis", "host": redis_server["host"],
                                          "port": redis_server["port"], "basename": "t_workers"}})
    sig_paths = _signatures(tmp_path, in_paths, cfg)
    loader = shard_shingle_loader(in_paths, cfg)
    expected = cluster(sig_paths, config_from_params({}), loader)[:2]
    # a stale entry from an earlier run must not survive reset_index
    stale = next(iter(sig_paths))
    index_shard(stale, cfg)
    assert reset_index(cfg) > 0
    for p in reversed(sig_paths):                       # workers, in any order
        index_shard(p, cfg)
    rows, drop, _ = cluster(sig_paths, cfg, loader, index_prebuilt=True)
    assert (rows, drop) == expected


def test_index_shard_refuses_memory_storage(shards):
    tmp_path, in_paths = shards
    cfg = config_from_params({})
    sig_paths = _signatures(tmp_path, in_paths[:1], cfg)
    with pytest.raises(ValueError, match="redis"):
        index_shard(sig_paths[0], cfg)
