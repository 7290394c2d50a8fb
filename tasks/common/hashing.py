"""Stable hashes: Python's hash() is salted per process, so shard assignment and per-document
random streams use blake2b instead and stay identical across runs, workers and machines."""
from __future__ import annotations

import hashlib


def stable_hash64(*parts: str | bytes | int) -> int:
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        if isinstance(part, int):
            part = str(part)
        if isinstance(part, str):
            part = part.encode("utf-8", "surrogatepass")
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return int.from_bytes(h.digest(), "little")


def shard_of(key: str, n_shards: int) -> int:
    """Deterministic shard index of a key (a repo id), independent of worker count and order."""
    return stable_hash64(key) % n_shards


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
