"""MinHash signatures computed over all shingles of a document at once, as datasketch would compute them.

datasketch's default scheme ("affine32", datasketch >= 2.0) maps a 32-bit input hash h to
fmix32(h), then applies num_perm permutations a_k * x + b_k mod 2**32 and keeps the minimum per k.
We take a_k, b_k from `datasketch.MinHash(num_perm, seed)` itself and run the same arithmetic as
whole-array numpy operations (shingles x permutations, in cache-sized blocks), so a signature here
equals `MinHash(num_perm, seed, hashfunc=identity).update_batch(h32)` bit for bit, at a fraction of
its cost, and the result is a real `LeanMinHash` that MinHashLSH indexes.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import LeanMinHash, MinHash

SCHEME = "affine32"
_U32_MAX = np.uint32(0xFFFFFFFF)
_F1, _F2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
_BLOCK_ROWS = 256          # shingles per block: block of 256 x num_perm uint32 stays in L2 cache


@dataclass(frozen=True)
class Permutations:
    num_perm: int
    seed: int
    a: np.ndarray                  # uint32[num_perm], odd
    b: np.ndarray                  # uint32[num_perm]
    a_block: np.ndarray            # a tiled _BLOCK_ROWS times (contiguous operands vectorise best)
    b_block: np.ndarray


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> Permutations:
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    a = np.ascontiguousarray(a, dtype=np.uint32)
    b = np.ascontiguousarray(b, dtype=np.uint32)
    for arr in (a, b):
        arr.setflags(write=False)
    return Permutations(num_perm, seed, a, b, np.tile(a, _BLOCK_ROWS), np.tile(b, _BLOCK_ROWS))


def fmix32(x: np.ndarray) -> np.ndarray:
    """murmur3's 32-bit finaliser (datasketch pre-mixes every input hash with it)."""
    x = x.astype(np.uint32, copy=True)
    x ^= x >> np.uint32(16)
    x *= _F1
    x ^= x >> np.uint32(13)
    x *= _F2
    x ^= x >> np.uint32(16)
    return x


def input_hashes(shingles: np.ndarray) -> np.ndarray:
    """The 32-bit MinHash input of each 64-bit shingle hash: its high half."""
    return (shingles >> np.uint64(32)).astype(np.uint32)


def minhash_values(h32: np.ndarray, perm: Permutations) -> np.ndarray:
    """uint32[num_perm] MinHash of a set of 32-bit hashes (empty set -> all 0xFFFFFFFF, datasketch's empty)."""
    p = perm.num_perm
    acc = np.full(p, _U32_MAX, dtype=np.uint32)
    if len(h32) == 0:
        return acc
    x = fmix32(h32)
    k = _BLOCK_ROWS
    full = (len(x) // k) * k
    if full:
        flat = np.empty(k * p, dtype=np.uint32)
        block = flat.reshape(k, p)
        running = np.full(k * p, _U32_MAX, dtype=np.uint32)
        for start in range(0, full, k):
            np.copyto(block, x[start:start + k, None])      # broadcast once, then contiguous ops
            np.multiply(flat, perm.a_block, out=flat)       # uint32 wraps: mod 2**32
            np.add(flat, perm.b_block, out=flat)
            np.minimum(running, flat, out=running)
        np.minimum(acc, running.reshape(k, p).min(axis=0), out=acc)
    if full < len(x):
        tail = x[full:, None] * perm.a
        tail += perm.b
        np.minimum(acc, tail.min(axis=0), out=acc)
    return acc


def signature(shingles: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash values (uint32[num_perm]) of a document's 64-bit shingle hashes."""
    return minhash_values(input_hashes(shingles), permutations(num_perm, seed))


def to_lean(values: np.ndarray, seed: int) -> LeanMinHash:
    return LeanMinHash(seed=seed, hashvalues=values, scheme=SCHEME)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray | float:
    """Share of equal MinHash values (row-wise when given 2-D arrays), as MinHash.jaccard."""
    eq = np.asarray(sig_a) == np.asarray(sig_b)
    return eq.mean(axis=-1)


def pack(values: np.ndarray) -> bytes:
    """Fixed-width little-endian bytes of a signature (the Parquet `signature` column)."""
    return np.ascontiguousarray(values, dtype="<u4").tobytes()


def unpack_many(blobs: list[bytes], num_perm: int) -> np.ndarray:
    """uint32[n, num_perm] from packed signatures."""
    if not blobs:
        return np.zeros((0, num_perm), dtype=np.uint32)
    return np.frombuffer(b"".join(blobs), dtype="<u4").reshape(len(blobs), num_perm).astype(np.uint32)
