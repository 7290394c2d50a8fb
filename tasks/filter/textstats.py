"""Per-file text statistics for the filter rules, computed on the UTF-8 bytes of a whole Arrow column.

Why bytes: decoding every file to a Python str and walking it per character runs at ~20% of the speed
of merely reading and decoding the corpus. Here each statistic is a handful of numpy passes over the
column's data buffer (zero-copy from Arrow), in cache-sized groups of rows, plus per-row counts; only
rare rows (non-ASCII bytes, '\\r', possible long lines) take a small extra step. Measured with
`python -m tasks.filter.benchmark`: ~400-550 MB/s of CPU time on stdlib Python sources.

Definitions (all counts are in *characters*, i.e. Unicode code points, as in the paper):
- `n_chars`: characters of the text. For UTF-8 that is bytes minus continuation bytes (0b10xxxxxx).
- lines: the text split on '\\n'. A final '\\n' ends the last line, it does not open an empty one
  (`str.splitlines` semantics for '\\n'); the empty text has 0 lines. A '\\r' directly before '\\n' is part
  of the line break ('\\r\\n' files measure the same as '\\n' files); any other '\\r' is an ordinary
  character (an old-Mac '\\r'-only file is one long line).
- `line_chars`: characters on all lines, line breaks excluded; average line length = line_chars / n_lines.
- `max_line`: characters of the longest line. Only compared with a threshold, so the batch path returns
  `long_line` (max_line > threshold) and measures lines exactly only where a cheap bound cannot rule
  it out.
- `alpha`: characters for which `str.isalpha()` is true (Unicode letters, as StarCoder's filter).
  ASCII letters are counted on the bytes; the non-ASCII bytes of a file (rare in code) are gathered,
  decoded and tested with `str.isalpha`. No UTF-8 byte of a multi-byte character is ASCII, so the two
  counts never overlap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

_ASCII = bytes(range(128))
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))


@dataclass(frozen=True)
class TextStats:
    """Exact statistics of one text (the reference definitions; see the module docstring)."""

    n_chars: int
    n_lines: int
    line_chars: int
    max_line: int
    alpha: int


def count_alpha(text: str) -> int:
    """Characters with str.isalpha(): ASCII letters on the bytes, the rest per character."""
    raw = text.encode("utf-8", "surrogatepass")
    letters = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
    if text.isascii():
        return letters
    rest = raw.translate(None, _ASCII).decode("utf-8", "surrogatepass")
    return letters + sum(map(str.isalpha, rest))


def _lf_body(text: str) -> str:
    return text.replace("\r\n", "\n") if "\r" in text else text


def _longest(body: str) -> int:
    return max(map(len, body.split("\n"))) if body else 0


def max_line_chars(text: str) -> int:
    """Characters of the longest line ('\r\n' counted as the line break)."""
    return _longest(_lf_body(text))


def text_stats(text: str) -> TextStats:
    """Exact statistics of one text with str primitives (used for rare rows and as the reference)."""
    body = _lf_body(text)
    n_nl = body.count("\n")
    n_lines = n_nl + (1 if body and not body.endswith("\n") else 0)
    return TextStats(len(text), n_lines, len(body) - n_nl, _longest(body), count_alpha(text))


@dataclass
class ColumnStats:
    """Statistics of every row of a string column, as numpy arrays (null rows are all zero)."""

    n_bytes: np.ndarray  # int64
    n_chars: np.ndarray  # int64
    n_lines: np.ndarray  # int64
    line_chars: np.ndarray  # int64
    alpha: np.ndarray  # int64
    long_line: np.ndarray  # bool: some line has more than `max_line_length` characters


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(data bytes, row offsets relative to data) of a string/large_string array, zero-copy."""
    if pa.types.is_string(arr.type):
        off_type = np.int32
    elif pa.types.is_large_string(arr.type):
        off_type = np.int64
    else:
        raise TypeError(f"expected a string column, got {arr.type}")
    bufs = arr.buffers()
    if bufs[1] is None or len(arr) == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(len(arr) + 1, dtype=np.int64)
    offsets = np.frombuffer(bufs[1], dtype=off_type)[arr.offset: arr.offset + len(arr) + 1].astype(np.int64)
    start, stop = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(bufs[2], dtype=np.uint8)[start:stop] if bufs[2] is not None else np.zeros(0, np.uint8)
    return data, offsets - start


def _per_row_counts(positions: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """How many of the sorted `positions` fall in each [start, stop)."""
    return np.searchsorted(positions, stops) - np.searchsorted(positions, starts)


def _segment_sums(mask: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """True values of `mask` in each row [offsets[i], offsets[i+1])."""
    sums = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) * _LOOP_MIN_ROW_BYTES <= len(mask):
        # Long rows: one count_nonzero per row (~5 GB/s in cache) beats reduceat's casting (~2 GB/s).
        count = np.count_nonzero
        bounds = offsets.tolist()
        sums[:] = [count(mask[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        return sums
    nonempty = lengths > 0
    if nonempty.any():
        # Empty rows are skipped: each non-empty row then ends where the next non-empty one starts.
        sums[nonempty] = np.add.reduceat(mask.view(np.uint8), offsets[:-1][nonempty], dtype=np.int64)
    return sums


_LOOP_MIN_ROW_BYTES = 4096


def _long_line_candidates(is_nl: np.ndarray, offsets: np.ndarray, limit: int) -> np.ndarray:
    """Rows that may hold a line longer than `limit` bytes (a superset; an exact check follows).

    A run of limit+1 bytes without '\\n' contains a whole aligned block of B <= (limit + 2) // 2 bytes,
    so rows touching no newline-free block cannot have such a line. Blocks are one reshape + any(),
    on 8-byte words when B allows.
    """
    n_rows = len(offsets) - 1
    block = max(1, (limit + 2) // 2)
    words = block >= 8 and is_nl.ctypes.data % 8 == 0
    if words:
        block -= block % 8  # a smaller block keeps the guarantee; whole 8-byte words test 8x faster
    n_blocks = len(is_nl) // block
    flags = np.zeros(n_rows, dtype=bool)
    if n_blocks == 0 or n_rows == 0:
        return flags
    blocks = is_nl[: n_blocks * block]
    if words:
        blocks = blocks.view(np.uint64)
    empty = np.flatnonzero(~blocks.reshape(n_blocks, -1).any(axis=1))
    if empty.size == 0:
        return flags
    lo = np.searchsorted(offsets[1:], empty * block, side="right")  # first row ending after block start
    hi = np.searchsorted(offsets[:-1], (empty + 1) * block, side="left")  # rows starting before block end
    marks = np.zeros(n_rows + 1, dtype=np.int64)
    np.add.at(marks, lo, 1)
    np.add.at(marks, hi, -1)
    return np.cumsum(marks[:-1]) > 0


_NO_POSITIONS = np.zeros(0, dtype=np.int64)


def _max_line_chars_at(d: np.ndarray, is_nl: np.ndarray, cont: np.ndarray, start: int, stop: int) -> int:
    """Exact longest line, in characters, of the row d[start:stop] (same definition as text_stats)."""
    nls = np.flatnonzero(is_nl[start:stop]) + start
    line_starts = np.concatenate(([start], nls + 1))
    line_stops = np.concatenate((nls, [stop]))
    chars = line_stops - line_starts - _per_row_counts(cont, line_starts, line_stops)
    if nls.size:  # a '\r' right before '\n' belongs to the line break
        ended = line_stops[:-1]
        chars[:-1] -= (ended > line_starts[:-1]) & (d[np.maximum(ended - 1, 0)] == 13)
    return int(chars.max())


# Rows are processed in groups of about this many bytes, so that the temporary masks stay in the CPU
# cache: streaming 31 MB temporaries through RAM made the whole pass three times slower.
GROUP_BYTES = 1 << 19


def _row_groups(offsets: np.ndarray, target: int) -> list[tuple[int, int]]:
    """Consecutive row ranges [r0, r1) of about `target` bytes each (a longer row stands alone)."""
    bounds = np.searchsorted(offsets, np.arange(target, int(offsets[-1]), target), side="right")
    cuts = [0, *sorted(set(bounds.tolist()) - {0, len(offsets) - 1}), len(offsets) - 1]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


class _Scratch:
    """Reusable mask buffers, grown on demand, so a group allocates nothing."""

    def __init__(self) -> None:
        self.size = 0
        self.u8 = np.empty(0, dtype=np.uint8)
        self.nl = np.empty(0, dtype=bool)
        self.mask = np.empty(0, dtype=bool)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if n > self.size:
            self.size = max(n, GROUP_BYTES)
            self.u8 = np.empty(self.size, dtype=np.uint8)
            self.nl = np.empty(self.size, dtype=bool)
            self.mask = np.empty(self.size, dtype=bool)
        return self.u8[:n], self.nl[:n], self.mask[:n]


def column_stats(arr: pa.Array, max_line_length: int) -> ColumnStats:
    """Statistics of every row of a string column (one Arrow chunk) in a few vectorised passes."""
    data, offsets = _string_buffers(arr)
    n_rows = len(offsets) - 1
    n_bytes = np.diff(offsets)
    stats = ColumnStats(
        n_bytes=n_bytes,
        n_chars=n_bytes.copy(),
        n_lines=np.zeros(n_rows, dtype=np.int64),
        line_chars=np.zeros(n_rows, dtype=np.int64),
        alpha=np.zeros(n_rows, dtype=np.int64),
        long_line=np.zeros(n_rows, dtype=bool),
    )
    scratch = _Scratch()
    for r0, r1 in _row_groups(offsets, GROUP_BYTES):
        _group_stats(data, offsets, r0, r1, max_line_length, scratch, stats)
    return stats


def _group_stats(data: np.ndarray, offsets: np.ndarray, r0: int, r1: int, limit: int,
                 scratch: _Scratch, out: ColumnStats) -> None:
    """Fill rows [r0, r1) of `out`; all temporaries are views of the scratch buffers."""
    base = int(offsets[r0])
    d = data[base: int(offsets[r1])]
    off = offsets[r0: r1 + 1] - base
    starts, stops = off[:-1], off[1:]
    lengths = stops - starts
    tmp, is_nl, mask = scratch.get(len(d))

    np.equal(d, 10, out=is_nl)
    n_nl = _segment_sums(is_nl, off, lengths)
    # ASCII letters: (b | 0x20) - 97 < 26 in wrapping uint8 arithmetic.
    np.bitwise_or(d, 0x20, out=tmp)
    np.subtract(tmp, 97, out=tmp)
    np.less(tmp, 26, out=mask)
    alpha = _segment_sums(mask, off, lengths)
    n_chars = lengths.copy()
    n_crlf = np.zeros(len(lengths), dtype=np.int64)
    cont = _NO_POSITIONS
    raw = d.tobytes()  # a cache-hot copy, for the C-speed bytes.isascii() and memchr searches
    if not raw.isascii():  # non-ASCII bytes: rare in code, handled sparsely
        high = np.flatnonzero(np.greater_equal(d, 0x80, out=mask))
        cont = high[(d[high] & 0xC0) == 0x80]  # UTF-8 continuation bytes: not characters
        n_chars -= _per_row_counts(cont, starts, stops)
        n_high = _per_row_counts(high, starts, stops)
        first = np.searchsorted(high, starts)
        for i in np.flatnonzero(n_high).tolist():
            h0 = int(first[i])
            chunk = d[high[h0: h0 + int(n_high[i])]].tobytes().decode("utf-8", "replace")
            alpha[i] += sum(map(str.isalpha, chunk))

    if b"\r" in raw:  # '\r' of '\r\n' pairs inside one row
        crs = np.flatnonzero(np.equal(d, 13, out=mask))
        crs = crs[crs + 1 < len(d)]
        n_crlf = _per_row_counts(crs[d[crs + 1] == 10], starts, np.maximum(stops - 1, starts))

    nonempty = lengths > 0
    ends_open = np.zeros(len(lengths), dtype=bool)
    ends_open[nonempty] = d[stops[nonempty] - 1] != 10

    n_lines = n_nl + ends_open
    line_chars = n_chars - n_nl - n_crlf
    # The longest line is at least the average and at most all line characters: most rows are
    # settled by these bounds; only the rest are measured line by line.
    long_line = line_chars > limit * n_lines
    maybe = ~long_line & (line_chars > limit) & _long_line_candidates(is_nl, off, limit)
    for i in np.flatnonzero(maybe).tolist():
        long_line[i] = _max_line_chars_at(d, is_nl, cont, int(starts[i]), int(stops[i])) > limit

    rows = slice(r0, r1)
    out.n_chars[rows] = n_chars
    out.n_lines[rows] = n_lines
    out.line_chars[rows] = line_chars
    out.alpha[rows] = alpha
    out.long_line[rows] = long_line
