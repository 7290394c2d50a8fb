"""Shingles of a document as 64-bit hashes, computed with array operations only.

A token is a maximal run of non-whitespace bytes of the UTF-8 text, whitespace being the ASCII set
that `bytes.split()` uses (space, \\t, \\n, \\r, \\v, \\f). A shingle is `n` consecutive tokens.
Hashing one Python object per token or shingle would cost more than the MinHash itself, so:
- token boundaries come from one comparison pass over the bytes;
- each token is read as little-endian 8-byte words through a byte-strided uint64 view of the buffer,
  masked to its length, combined by a polynomial over words and finished with the murmur3 64-bit
  finaliser together with its length (tokens up to 16 bytes hash without any loss before the mix);
- n-gram hashes are a position-weighted sum of the n token hashes (shifted array slices), mixed again.
Hashes are fixed constants (no seed): the same text gives the same shingle set in every process.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

U64 = np.uint64
_M64 = (1 << 64) - 1
_C1, _C2 = U64(0xFF51AFD7ED558CCD), U64(0xC4CEB9FE1A85EC53)
_S33 = U64(33)
_WORD_BASE = 0x9E3779B97F4A7C15      # odd: multiplier between the 8-byte words of one token
_LEN_MULT = U64(0xD6E8FEB86659FD93)
_MASKS = np.array([0] + [(1 << (8 * k)) - 1 for k in range(1, 8)] + [_M64], dtype=np.uint64)
_BLOCK = 8 << 20                      # texts longer than this are hashed in whitespace-aligned blocks
_WS = b" \t\n\r\x0b\x0c"
_EMPTY = np.zeros(0, dtype=np.uint64)


def _splitmix64(i: int) -> int:
    z = (i * 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


# One odd multiplier per position inside an n-gram, so "a b" and "b a" hash differently.
_GRAM_MULTS = [U64(_splitmix64(j + 1) | 1) for j in range(64)]
_powers = np.ones(1, dtype=np.uint64)


def fmix64(x: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser, in place on a uint64 array (a bijection that spreads every bit)."""
    x ^= x >> _S33
    x *= _C1
    x ^= x >> _S33
    x *= _C2
    x ^= x >> _S33
    return x


def _word_powers(n: int) -> np.ndarray:
    """_WORD_BASE ** j mod 2**64 for j < n, grown on demand and cached."""
    global _powers
    if len(_powers) < n:
        size = max(n, 2 * len(_powers), 64)
        steps = np.full(size, _WORD_BASE, dtype=np.uint64)
        steps[0] = 1
        _powers = np.cumprod(steps, dtype=np.uint64)  # wraps mod 2**64, as intended
    return _powers[:n]


def _block_token_hashes(data: bytes) -> np.ndarray:
    n = len(data)
    if n == 0:
        return _EMPTY
    buf = np.frombuffer(data, dtype=np.uint8)
    ws = (buf == 32) | ((buf - np.uint8(9)) < 5)          # uint8 wrap: 9..13 -> 0..4
    edges = np.empty(n + 2, dtype=bool)
    edges[0] = edges[-1] = True
    edges[1:-1] = ws
    t = np.flatnonzero(edges[1:] != edges[:-1])            # start0, end0, start1, end1, ...
    if len(t) == 0:
        return _EMPTY
    starts, ends = t[0::2], t[1::2]
    length = ends - starts
    padded = data + b"\0" * 8
    words = np.ndarray((n,), dtype="<u8", buffer=padded, offset=0, strides=(1,))  # word at every byte
    h = words[starts] & _MASKS[np.minimum(length, 8)]
    long_tok = np.flatnonzero(length > 8)
    if len(long_tok):
        extra = (length[long_tok] - 1) >> 3                # words after the first one
        first = np.cumsum(extra) - extra
        j = np.arange(int(extra.sum()), dtype=np.int64) - np.repeat(first, extra) + 1
        part = words[np.repeat(starts[long_tok], extra) + 8 * j]
        last = first + extra - 1
        part[last] &= _MASKS[length[long_tok] - 8 * extra]
        part *= _word_powers(int(j.max()) + 1)[j]
        h[long_tok] += np.add.reduceat(part, first)
    h += length.astype(np.uint64) * _LEN_MULT
    return fmix64(h)


def _blocks(data: bytes) -> Iterable[bytes]:
    """Whitespace-aligned slices of at most ~_BLOCK bytes (tokens never straddle two)."""
    start, n = 0, len(data)
    while n - start > _BLOCK:
        end = start + _BLOCK
        cut = max(data.rfind(c, start, end) for c in _WS)
        cut = end if cut <= start else cut + 1             # no whitespace at all: cut the giant token
        yield data[start:cut]
        start = cut
    yield data[start:]


def token_hashes(text: str | bytes) -> np.ndarray:
    """uint64 hash of every whitespace-separated token, in order."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if len(data) <= _BLOCK:
        return _block_token_hashes(data)
    parts = [_block_token_hashes(block) for block in _blocks(data)]
    return np.concatenate(parts) if parts else _EMPTY


def shingle_hashes(tokens: np.ndarray, size: int) -> np.ndarray:
    """uint64 hash of every run of `size` consecutive tokens (one shingle of all tokens if fewer)."""
    m = len(tokens)
    if m == 0:
        return _EMPTY
    k = min(size, m)
    count = m - k + 1
    acc = tokens[:count] * _GRAM_MULTS[0]
    for j in range(1, k):
        acc += tokens[j:j + count] * _GRAM_MULTS[j]
    acc += U64(k)
    return fmix64(acc)


def document_shingles(texts: Iterable[str | bytes | None], size: int) -> np.ndarray:
    """Sorted unique shingle hashes of the texts read as one document (a repository's samples in order).

    Texts are joined by whitespace, so shingles run across sample boundaries as they would in the
    concatenated text, but no text is copied into one big string. None counts as empty.
    """
    parts = [token_hashes(t) for t in texts if t]
    parts = [p for p in parts if len(p)]
    if not parts:
        return _EMPTY
    tokens = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return sorted_unique(shingle_hashes(tokens, size))


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """np.unique for uint64, without its overhead (numpy 2.x's unique is ~15x slower than sort here)."""
    if len(x) < 2:
        return x.copy()
    x = np.sort(x)
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]
