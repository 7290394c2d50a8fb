"""Deterministic, resumable batches from packed token shards.

A split is read as one token stream (the concatenation of its packed sequences). Training window i
at length L is stream tokens [i*L, i*L + L + 1): inputs are the first L, targets the last L, so every
packed token is predicted once and a phase may use any length (the long-context phase reads 4x
longer windows from the same shards). Windows are visited in a pseudo-random order that is a pure
function of (seed, phase name, epoch, index): a keyed Feistel permutation with cycle walking, so no
permutation array is held in memory and the only state to checkpoint is how many windows the run has
consumed. Global sample g of an optimizer step goes to rank (g // batch_size) % world_size, so a run
on W ranks with grad_accum A sees exactly the micro-batches of one rank with grad_accum W*A.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from tasks.common.hashing import stable_hash64
from tasks.pack.format import PackedDataset


def _mix(x: np.ndarray, key: int) -> np.ndarray:
    """splitmix64 finaliser of x ^ key: a cheap keyed pseudo-random function on uint64 arrays."""
    z = x ^ np.uint64(key)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def permute(indices: np.ndarray, n: int, key: int, rounds: int = 6) -> np.ndarray:
    """Image of `indices` (< n) under a keyed pseudo-random bijection of range(n)."""
    if n <= 1:
        return indices.astype(np.int64)
    half = max(1, ((n - 1).bit_length() + 1) // 2)  # Feistel on 2*half bits covers [0, n)
    mask = np.uint64((1 << half) - 1)
    round_keys = [stable_hash64(key, r) for r in range(rounds)]

    def feistel(x: np.ndarray) -> np.ndarray:
        left, right = x >> np.uint64(half), x & mask
        for rk in round_keys:
            left, right = right, left ^ (_mix(right, rk) & mask)
        return (left << np.uint64(half)) | right

    with np.errstate(over="ignore"):
        x = feistel(indices.astype(np.uint64))
        outside = x >= np.uint64(n)
        while outside.any():  # cycle walking: domain is < 4n, so a few rounds at most on average
            x[outside] = feistel(x[outside])
            outside = x >= np.uint64(n)
    return x.astype(np.int64)


class TokenWindows:
    """Windows of `seq_len` (+1 target) tokens over a packed split, read from memory-mapped shards."""

    def __init__(self, split_dir: str | os.PathLike, seq_len: int) -> None:
        self.ds = PackedDataset.open(split_dir)
        self.packed_len = self.ds.seq_len
        self.seq_len = seq_len
        self.n_tokens = len(self.ds) * self.packed_len
        self.n_windows = max(0, (self.n_tokens - 1) // seq_len)

    @property
    def vocab_size(self) -> int:
        return int(self.ds.header["vocab_size"])

    def window(self, i: int) -> np.ndarray:
        start, stop = i * self.seq_len, i * self.seq_len + self.seq_len + 1
        first, last = start // self.packed_len, (stop - 1) // self.packed_len
        tokens = np.concatenate([self.ds[j] for j in range(first, last + 1)])
        offset = start - first * self.packed_len
        return tokens[offset:offset + self.seq_len + 1]


@dataclass(frozen=True)
class Sampler:
    """Maps a global sample number (0, 1, 2, ... across epochs) to a window index."""

    n_windows: int
    seed: int
    stream: str  # phase name: each phase has its own order

    def window_index(self, samples: np.ndarray) -> np.ndarray:
        epochs, within = np.divmod(samples, self.n_windows)
        out = np.empty_like(within)
        for epoch in np.unique(epochs):
            sel = epochs == epoch
            out[sel] = permute(within[sel], self.n_windows, stable_hash64(self.seed, self.stream, int(epoch)))
        return out


def micro_batch(windows: TokenWindows, sampler: Sampler, consumed: int, micro: int, rank: int,
                world: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets (batch_size, seq_len) int64 for one rank's micro-step of the optimizer
    step that starts at global sample `consumed`."""
    first = consumed + (micro * world + rank) * batch_size
    idx = sampler.window_index(np.arange(first, first + batch_size, dtype=np.int64))
    rows = np.stack([windows.window(int(i)) for i in idx])
    return rows[:, :-1], rows[:, 1:]


def eval_windows(windows: TokenWindows, n: int, seed: int) -> np.ndarray:
    """A fixed pseudo-random choice of n validation windows (the same at every eval and resume)."""
    n = min(n, windows.n_windows)
    return permute(np.arange(n, dtype=np.int64), windows.n_windows, stable_hash64(seed, "eval"))
