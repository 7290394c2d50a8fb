"""Vectorised, stable n-gram hashing for decontamination.

Why numpy on raw UTF-8 bytes instead of a regex tokenizer: tokenising with `re.findall` and hashing
each token in Python costs ~1 us per token, ten times the cost of reading the text. Here a whole batch
of texts is encoded once, token boundaries come from a byte-class table, token hashes from prefix
sums of a polynomial hash, and n-gram hashes from a rolling combination of token hashes: a handful
of array passes per batch, no Python loop over tokens or over benchmark items.

Gram unit (`unit`):
- ``token``: a maximal run of word bytes (ASCII letters, digits, ``_`` and every non-ASCII
  byte, so UTF-8 letters stay inside words) or a single ASCII punctuation character. Whitespace only
  separates tokens, so ``a+b``, ``a + b`` and ``a +\n  b`` give the same grams.
- ``alnum``: the word-byte runs of ``token`` only; punctuation is dropped, so quotes, comment
  markers and operators around text do not matter (``range(len(x)):`` is ``range len x``).
- ``word`` (default): a maximal run of non-whitespace bytes with punctuation trimmed from both
  edges (``"Compute`` and ``compute,`` are both ``compute``; ``range(len(x)):`` is the one word
  ``range(len(x``; a lone ``#``, ``=`` or ``}`` is no word at all).
Normalisation: optional ASCII lowercasing (``lowercase``); whitespace never matters.

Hashes are 64-bit, identical across processes, machines and runs (no salted ``hash()``): the same
text always gives the same grams, so a cached benchmark index stays valid.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

UNITS = ("word", "alnum", "token")
# bump whenever tokenisation or hashing changes: it is part of the benchmark index cache key
HASH_VERSION = 3

_P = np.uint64(0x100000001B3)  # odd multiplier for byte polynomial (FNV prime)
_R = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier for the token-level polynomial
_MASK64 = (1 << 64) - 1


def _inverse_mod_2_64(x: int) -> int:
    """Multiplicative inverse of an odd number modulo 2**64 (Newton iteration)."""
    inv = x
    for _ in range(6):
        inv = (inv * (2 - x * inv)) & _MASK64
    return inv


_Q = np.uint64(_inverse_mod_2_64(int(_P)))

_CLASS = np.full(256, 2, dtype=np.uint8)  # punctuation unless listed below
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
    _CLASS[_c] = 1
_CLASS[0x80:] = 1
for _c in b" \t\n\r\x0b\x0c":
    _CLASS[_c] = 0
_ALPHA = np.zeros(256, dtype=bool)
for _c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _ALPHA[_c] = True
_ALPHA[0x80:] = True

_POWERS: list[np.ndarray] = []


_MAX_CACHED_POWERS = 1 << 23  # 64 MiB per table; a larger batch (one huge file) builds its own


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Q**j and P**j for j < n (mod 2**64), cached (up to a bound) and grown by doubling."""
    if _POWERS and _POWERS[0].size >= n:
        return _POWERS[0], _POWERS[1]
    size = max(n, min(2 * _POWERS[0].size if _POWERS else 1 << 16, _MAX_CACHED_POWERS))
    tables = []
    for base in (_Q, _P):
        table = np.empty(size, dtype=np.uint64)
        table[0] = 1
        table[1:] = base
        np.cumprod(table, out=table)
        tables.append(table)
    if size <= _MAX_CACHED_POWERS:
        _POWERS[:] = tables
    return tables[0], tables[1]


def fmix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: breaks the linearity of the polynomial hashes (uint64 array in/out)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class TokenBatch:
    """Token hashes of a batch of texts: `hashes[i]` belongs to text `owner[i]`, in text order."""

    hashes: np.ndarray  # uint64
    owner: np.ndarray  # int64 index of the text each token comes from
    n_texts: int
    wordlike: np.ndarray | None = None  # bool: token has >= 2 letters (ASCII or non-ASCII bytes)

    def counts(self) -> np.ndarray:
        return np.bincount(self.owner, minlength=self.n_texts)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of each run of True (mask is False at both ends)."""
    edges = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    return edges[0::2], edges[1::2]


def _trim_punctuation(cls: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move run edges inwards past punctuation bytes; drop runs with no word byte left.

    Iterates only over the runs still starting (ending) with punctuation, so the cost is the number
    of edge punctuation bytes, not of all bytes.
    """
    starts, ends = starts.copy(), ends.copy()
    active = np.flatnonzero(cls[starts] == 2)
    while active.size:
        starts[active] += 1
        active = active[(starts[active] < ends[active]) & (cls[starts[active]] == 2)]
    active = np.flatnonzero((starts < ends) & (cls[ends - 1] == 2))
    while active.size:
        ends[active] -= 1
        active = active[(ends[active] > starts[active]) & (cls[ends[active] - 1] == 2)]
    keep = starts < ends
    return starts[keep], ends[keep]


def _boundaries(cls: np.ndarray, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) byte offsets of every unit, from the byte classes."""
    if unit == "word":
        return _trim_punctuation(cls, *_runs(cls != 0))
    if unit == "alnum":
        return _runs(cls == 1)
    word_starts, word_ends = _runs(cls == 1)
    punct = np.flatnonzero(cls == 2)
    return np.sort(np.concatenate((word_starts, punct))), np.sort(np.concatenate((word_ends, punct + 1)))


def unit_spans(text: str, unit: str = "word") -> tuple[bytes, np.ndarray, np.ndarray]:
    """(UTF-8 bytes, start and end offsets of each unit) of one text: to show which text matched."""
    data = text.encode("utf-8", "surrogatepass")
    starts, ends = _boundaries(_CLASS[np.frombuffer(b"\n" + data + b"\n", dtype=np.uint8)], unit)
    return data, starts - 1, ends - 1


def tokenize_batch(texts: Sequence[str], unit: str = "token", lowercase: bool = True,
                   with_wordlike: bool = False) -> TokenBatch:
    """Hash every gram unit of every text in one vectorised pass (`with_wordlike`: also flag tokens
    with at least two letters, used to keep low-information grams out of the benchmark index)."""
    if unit not in UNITS:
        raise ValueError(f"unknown gram unit {unit!r}")
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    # a whitespace byte before, between and after the texts: no token spans two texts, every run of
    # token bytes has a start and an end edge; text i covers (offsets[i], offsets[i + 1])
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) + 1 for e in encoded], out=offsets[1:])
    buf = np.frombuffer(b"\n" + b"\n".join(encoded) + b"\n", dtype=np.uint8)
    n = buf.size

    cls = _CLASS[buf]  # 0 space, 1 word byte, 2 punctuation
    starts, ends = _boundaries(cls, unit)
    if starts.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return TokenBatch(np.zeros(0, dtype=np.uint64), empty, len(texts),
                          np.zeros(0, dtype=bool) if with_wordlike else None)

    # position-independent polynomial hash of buf[s:e]: (S[e] - S[s]) * P**s with S the prefix sum
    # of b_j * Q**j (Q = 1/P mod 2**64); the power tables are cached across calls
    qpow, ppow = _powers(n)
    if lowercase:
        upper = (buf - np.uint8(65)) < np.uint8(26)  # 'A'..'Z' (uint8 wraps below 'A')
        buf = buf + upper.view(np.uint8) * np.uint8(32)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    np.multiply(buf, qpow[:n], out=prefix[1:], dtype=np.uint64)
    np.cumsum(prefix[1:], out=prefix[1:])
    raw = (prefix[ends] - prefix[starts]) * ppow[starts]
    lengths = (ends - starts).astype(np.uint64)
    hashes = fmix64(raw ^ (lengths * np.uint64(0xD6E8FEB86659FD93)))
    owner = np.searchsorted(offsets, starts, side="right") - 1
    wordlike = None
    if with_wordlike:
        letters = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(_ALPHA[buf], out=letters[1:])
        wordlike = (letters[ends] - letters[starts]) >= 2
    return TokenBatch(hashes, owner.astype(np.int64), len(texts), wordlike)


def rolling_grams(batch: TokenBatch, sizes: Iterable[int]) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each k in `sizes`: (hashes of all k-grams inside one text, index of the text, index of
    the gram's first token in the batch).

    Built incrementally (G_{k+1}[i] = G_k[i] * R + T[i+k]) so all sizes up to max(sizes) cost
    max(sizes) array passes; grams that would straddle two texts are dropped.
    """
    wanted = sorted(set(int(k) for k in sizes))
    out: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if not wanted:
        return out
    tokens, owner = batch.hashes, batch.owner
    acc = tokens.copy()
    for k in range(1, wanted[-1] + 1):
        if k > 1:
            m = tokens.size - k + 1
            if m <= 0:
                acc = acc[:0]
            else:
                acc = acc[:m] * _R + tokens[k - 1:]
        if k in out or k not in wanted:
            continue
        m = acc.size
        if m == 0:
            empty = np.zeros(0, dtype=np.int64)
            out[k] = (np.zeros(0, dtype=np.uint64), empty, empty)
            continue
        same = owner[:m] == owner[k - 1:k - 1 + m]
        start = np.flatnonzero(same)
        out[k] = (fmix64(acc[start] ^ np.uint64(k)), owner[start], start)
    return out


def grams_at(batch: TokenBatch, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k-gram hashes (same values as `rolling_grams`) starting at the given token positions only;
    returns (hashes, positions kept), dropping grams that run past their text."""
    tokens, owner = batch.hashes, batch.owner
    positions = positions[positions + k <= tokens.size]
    positions = positions[owner[positions] == owner[positions + k - 1]]
    acc = tokens[positions].copy()
    for j in range(1, k):
        acc = acc * _R + tokens[positions + j]
    return fmix64(acc ^ np.uint64(k)), positions


def text_grams(text: str, k: int, unit: str = "token", lowercase: bool = True) -> np.ndarray:
    """All k-gram hashes of one text (convenience for tests and index building)."""
    grams, _, _ = rolling_grams(tokenize_batch([text], unit, lowercase), [k])[k]
    return grams
