"""The MinHash LSH index (datasketch.MinHashLSH), in memory or in Redis, and its candidate pairs.

With Redis storage the index lives outside the process under `storage.basename`, so several workers
can insert their shards into one index (`insert_signatures`) and one process then reads the candidate
pairs. Keys are the UTF-8 bytes of repo ids (no pickling: any client can read them).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from datasketch import MinHashLSH

from tasks.dedup.config import Config
from tasks.dedup.signature import to_lean

_INSERT_BUFFER = 10_000
_LOOKUP_BATCH = 10_000   # bucket lookups per Redis pipeline


def open_index(cfg: Config) -> MinHashLSH:
    """An LSH index with the configured shape and storage (attaches to existing Redis data)."""
    bands, rows = cfg.lsh
    return MinHashLSH(num_perm=cfg.num_perm, params=(bands, rows),
                      storage_config=cfg.storage.datasketch_config(), prepickle=False)


def reset_index(cfg: Config) -> int:
    """Delete a Redis index's keys (a previous run's entries would otherwise become candidates).

    Returns the number of keys deleted; a no-op for memory storage.
    """
    if cfg.storage.type != "redis":
        return 0
    import redis

    client = redis.Redis(host=cfg.storage.host, port=cfg.storage.port)
    base = cfg.storage.basename.encode("ascii")
    deleted = 0
    for pattern in (base + b"_bucket_*", base + b"_keys*"):
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.delete(*batch)
                batch = []
        if batch:
            deleted += client.delete(*batch)
    client.close()
    return deleted


def insert_signatures(lsh: MinHashLSH, repos: Sequence[str], sigs: np.ndarray, seed: int) -> int:
    """Insert (repo, signature) pairs; re-inserting a repo is harmless (set semantics)."""
    with lsh.insertion_session(buffer_size=_INSERT_BUFFER) as session:
        for repo, values in zip(repos, sigs):
            session.insert(repo.encode("utf-8"), to_lean(values, seed), check_duplication=False)
    return len(repos)


def index_shard(sig_path: str | Path, cfg: Config) -> dict[str, Any]:
    """Insert one signature shard into the shared Redis index (run by workers, one call per shard;
    reset_index first, then cluster(..., index_prebuilt=True))."""
    from tasks.dedup.shards import read_signatures

    if cfg.storage.type != "redis":
        raise ValueError("index_shard: needs dedup.storage.type=redis (a memory index is not shared)")
    table = read_signatures([sig_path], cfg)
    repos = [r for r, ok in zip(table.repos, table.has_sig) if ok]
    inserted = insert_signatures(open_index(cfg), repos, table.sigs[table.has_sig], cfg.seed)
    return {"shard": Path(sig_path).name, "inserted": inserted}


def candidate_pairs(lsh: MinHashLSH, repos: Sequence[str], sigs: np.ndarray) -> np.ndarray:
    """int64[m, 2] index pairs (i < j, sorted) of repos that share at least one band bucket.

    Same answer as `lsh.query` for every repo, but one batched lookup per band (`getmany`, a single
    pipelined round trip with Redis) instead of bands x repos lookups. Keys in the index that are not
    among `repos` are ignored.
    """
    index_of = {repo.encode("utf-8"): i for i, repo in enumerate(repos)}
    pairs: set[tuple[int, int]] = set()
    for (start, end), table in zip(lsh.hashranges, lsh.hashtables):
        for lo in range(0, len(repos), _LOOKUP_BATCH):
            hi = min(lo + _LOOKUP_BATCH, len(repos))
            buckets = [lsh._H(sigs[i, start:end]) for i in range(lo, hi)]  # the index's own bucket key
            for i, members in enumerate(table.getmany(*buckets), start=lo):
                if len(members) < 2:
                    continue
                for key in members:
                    j = index_of.get(bytes(key))
                    if j is not None and j > i:
                        pairs.add((i, j))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.array(sorted(pairs), dtype=np.int64)
