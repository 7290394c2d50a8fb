"""Test-set decontamination (DeepSeek-Coder §2.4): drop a file sharing a 10-gram with benchmark data.

Rule, as the paper states it and as implemented here:
- a benchmark item with at least `ngram` units contaminates every file that contains any of its
  `ngram`-grams;
- an item with fewer than `ngram` but at least `min_short_ngrams` units contaminates a file that
  contains the WHOLE item as a contiguous run of units (never a part of it);
- shorter items are ignored (counted in the index metadata as `too_short`).
Units and normalisation are those of `ngrams.py` (default: whitespace-separated words, lowercased).

Guarding against false positives on ordinary code (measured on the CPython stdlib, see the stage
report): the default unit is a whitespace-separated *word*, so a 10-gram spans one to three lines
of code rather than one line of punctuation tokens; low-information grams - fewer than
`min_wordlike_units` units with two or more letters, such as `[0, 1, 2, 3, ...`, `b c d e f ...`
or `one 1 two 2 three 3` - are kept out of the index; items are whole problems
(prompt + solution), so a one-line solution such as `return len(string)` is not a short item; and
`min_gram_hits` can ask for several distinct matching grams (default 1 = the paper's rule).

The benchmark index is built once (`build_benchmark_index`) and cached in a file keyed by the
benchmark files' sha256 and every setting that changes the grams; each worker memory-maps it. A
file is checked with a few vectorised passes over its bytes plus one sorted-array lookup per gram
size (a bitmap in front of the lookup rejects most grams with one array read) - never a loop over
benchmark items.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from tasks.common.hashing import sha256_hex
from tasks.common.io import dumps_json
from tasks.quality.arrays import load_arrays, save_arrays
from tasks.quality.benchmarks import file_digest, load_items, resolve_path
from tasks.quality.config import Config, DecontamConfig
from tasks.quality.ngrams import HASH_VERSION, grams_at, rolling_grams, tokenize_batch

INDEX_VERSION = 2


def index_key(dc: DecontamConfig, root: str | Path | None = None) -> str:
    """Cache key: benchmark file contents + every setting that changes the index."""
    benchmarks = []
    for spec in dc.benchmarks:
        entry = asdict(spec)
        path = resolve_path(spec.path, root)
        entry["sha256"] = file_digest(path) if path.is_file() else None
        entry.pop("path")  # moving a file does not change the index; its bytes do
        benchmarks.append(entry)
    settings = {"version": INDEX_VERSION, "hash_version": HASH_VERSION, "ngram": dc.ngram, "min_short_ngrams": dc.min_short_ngrams,
                "unit": dc.unit, "lowercase": dc.lowercase, "min_wordlike_units": dc.min_wordlike_units,
                "benchmarks": benchmarks}
    return sha256_hex(dumps_json(settings).encode())


def _batches(texts: Sequence[str], batch_bytes: int) -> list[tuple[int, int]]:
    """[start, end) ranges of texts holding about `batch_bytes` characters each."""
    ranges, start, size = [], 0, 0
    for i, text in enumerate(texts):
        size += len(text)
        if size >= batch_bytes:
            ranges.append((start, i + 1))
            start, size = i + 1, 0
    if start < len(texts):
        ranges.append((start, len(texts)))
    return ranges


def build_benchmark_index(cfg: Config, cache_dir: str | Path, root: str | Path | None = None) -> Path:
    """Hash every benchmark item's grams once and cache the index; returns its path.

    Called once by the flow before fanning out; a second call with the same benchmark files and
    settings returns the cached file without reading the benchmarks' text.
    """
    dc = cfg.decontam
    key = index_key(dc, root)
    path = Path(cache_dir) / f"benchmark-index-{key[:24]}.qarr"
    if path.is_file():
        return path

    names: list[str] = []  # "benchmark:item_id" per item
    bench_of: list[int] = []
    texts: list[str] = []
    per_bench: dict[str, dict[str, int]] = {}
    for b, spec in enumerate(dc.benchmarks):
        items = load_items(spec, f"quality.decontam.benchmarks[{b}]", root)
        per_bench[spec.name] = {"items": len(items), "long": 0, "short": 0, "too_short": 0, "grams": 0}
        for item in items:
            names.append(f"{spec.name}:{item.item_id}")
            bench_of.append(b)
            texts.append(item.text)
    bench_arr = np.array(bench_of, dtype=np.int64)

    n, lo = dc.ngram, dc.min_short_ngrams
    long_parts, short_parts = [], []  # (hashes, item index)
    short_first: list[np.ndarray] = []  # first-unit hashes of short items: the scan's prefilter
    all_short_sizes: set[int] = set()
    for start, end in _batches(texts, dc.batch_bytes):
        batch = tokenize_batch(texts[start:end], dc.unit, dc.lowercase, with_wordlike=True)
        counts = batch.counts()
        wordlike_cum = np.concatenate(([0], np.cumsum(batch.wordlike, dtype=np.int64)))
        short_sizes = sorted(set(int(c) for c in counts if lo <= c < n))
        all_short_sizes.update(short_sizes)
        grams = rolling_grams(batch, [n] + short_sizes)
        g, owner, first = grams[n]
        keep = (wordlike_cum[first + n] - wordlike_cum[first]) >= dc.min_wordlike_units
        long_parts.append((g[keep], owner[keep] + start))
        for k in short_sizes:
            g, owner, first = grams[k]
            # the whole item: its only k-gram, starting at the item's first token
            whole = (counts[owner] == k) & ((wordlike_cum[first + k] - wordlike_cum[first]) >= dc.min_wordlike_units)
            short_parts.append((g[whole], owner[whole] + start))
            short_first.append(batch.hashes[first[whole]])
        for local, c in enumerate(counts):
            bench = dc.benchmarks[bench_of[start + local]].name
            per_bench[bench]["long" if c >= n else "short" if c >= lo else "too_short"] += 1

    arrays: dict[str, np.ndarray] = {}
    for prefix, parts in (("long", long_parts), ("short", short_parts)):
        hashes = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.uint64)
        items = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
        order = np.lexsort((items, hashes))
        hashes, items = hashes[order], items[order]
        masks = np.left_shift(np.uint64(1), bench_arr[items].astype(np.uint64)) if items.size else np.zeros(0, np.uint64)
        new = np.ones(hashes.size, dtype=bool)
        new[1:] = hashes[1:] != hashes[:-1]
        starts = np.flatnonzero(new)
        arrays[f"{prefix}_hash"] = hashes[starts]
        arrays[f"{prefix}_mask"] = np.bitwise_or.reduceat(masks, starts) if starts.size else masks
        arrays[f"{prefix}_item"] = items[starts].astype(np.int32)

    arrays["short_first"] = np.unique(np.concatenate(short_first)) if short_first else np.zeros(0, np.uint64)
    for b, spec in enumerate(dc.benchmarks):
        per_bench[spec.name]["grams"] = int(((arrays["long_mask"] >> np.uint64(b)) & np.uint64(1)).sum())
    meta = {"key": key, "version": INDEX_VERSION, "ngram": n, "min_short_ngrams": lo, "unit": dc.unit,
            "lowercase": dc.lowercase, "min_wordlike_units": dc.min_wordlike_units,
            "short_sizes": sorted(all_short_sizes), "benchmarks": [s.name for s in dc.benchmarks], "items": names, "per_benchmark": per_bench}
    save_arrays(path, arrays, meta)
    return path


@dataclass(frozen=True)
class FileHits:
    """Contamination evidence for one file."""

    grams: int  # distinct matching long grams
    short_items: int  # whole short items found
    mask: int  # bit b set: benchmark b matched
    items: tuple[str, ...]  # a few matched item names, sorted
    per_benchmark: tuple[tuple[int, int], ...] = ()  # (benchmark bit, matching grams + short items)

    def contaminated(self, min_gram_hits: int) -> bool:
        return self.short_items > 0 or self.grams >= min_gram_hits


class _Table:
    """Sorted hashes with a bitmap prefilter on their top bits."""

    def __init__(self, hashes: np.ndarray, masks: np.ndarray, items: np.ndarray) -> None:
        self.hashes, self.masks, self.items = hashes, masks, items
        self.bits = int(min(24, max(10, math.ceil(math.log2(max(hashes.size, 1) * 16)))))
        self.shift = np.uint64(64 - self.bits)
        self.bitmap = np.zeros(1 << self.bits, dtype=bool)
        if hashes.size:
            self.bitmap[np.asarray(hashes) >> self.shift] = True

    def lookup(self, grams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in `grams` that are in the table, their rows in the table)."""
        if grams.size == 0 or self.hashes.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        cand = np.flatnonzero(self.bitmap[grams >> self.shift])
        if cand.size == 0:
            return cand, cand
        sub = grams[cand]
        rows = np.minimum(np.searchsorted(self.hashes, sub), self.hashes.size - 1)
        ok = self.hashes[rows] == sub
        return cand[ok], rows[ok]


class BenchmarkIndex:
    """A loaded (memory-mapped) benchmark index."""

    def __init__(self, path: str | Path) -> None:
        arrays, meta = load_arrays(path, mmap=True)
        self.path = Path(path)
        self.meta = meta
        self.ngram: int = meta["ngram"]
        self.unit: str = meta["unit"]
        self.lowercase: bool = meta["lowercase"]
        self.benchmarks: list[str] = meta["benchmarks"]
        self.items: list[str] = meta["items"]
        self.long = _Table(arrays["long_hash"], arrays["long_mask"], arrays["long_item"])
        self.short = _Table(arrays["short_hash"], arrays["short_mask"], arrays["short_item"])
        self.short_sizes: list[int] = list(meta["short_sizes"])
        self.short_first = np.asarray(arrays["short_first"])

    def scan(self, texts: Sequence[str], batch_bytes: int = 4_000_000, max_items: int = 3) -> list[FileHits | None]:
        """Hits per text (None = clean), in input order.

        Long grams: every `ngram`-gram of the batch is looked up. Short items: only positions whose
        first unit starts some short item are hashed, so they cost one `isin` over the units.
        """
        out: list[FileHits | None] = [None] * len(texts)
        for start, end in _batches(texts, batch_bytes):
            batch = tokenize_batch(texts[start:end], self.unit, self.lowercase)
            found: dict[int, dict] = {}

            def record(table: _Table, kind: str, grams: np.ndarray, owners: np.ndarray) -> None:
                pos, rows = table.lookup(grams)
                for text_no, gram, row in zip(owners[pos].tolist(), grams[pos].tolist(), rows.tolist()):
                    entry = found.setdefault(text_no, {"long": {}, "short": {}, "items": set()})
                    entry[kind][gram] = int(table.masks[row])
                    entry["items"].add(self.items[int(table.items[row])])

            grams, owners, _ = rolling_grams(batch, [self.ngram])[self.ngram]
            record(self.long, "long", grams, owners)
            if self.short_sizes:
                candidates = np.flatnonzero(np.isin(batch.hashes, self.short_first))
                for k in self.short_sizes:
                    grams, positions = grams_at(batch, candidates, k)
                    record(self.short, "short", grams, batch.owner[positions])
            for text_no, entry in found.items():
                masks = list(entry["long"].values()) + list(entry["short"].values())
                mask = 0
                for m in masks:
                    mask |= m
                per_bench = tuple((b, sum(m >> b & 1 for m in masks)) for b in range(len(self.benchmarks)) if mask >> b & 1)
                out[start + text_no] = FileHits(len(entry["long"]), len(entry["short"]), mask,
                                                tuple(sorted(entry["items"])[:max_items]), per_bench)
        return out

    def benchmark_names(self, mask: int) -> list[str]:
        return [name for b, name in enumerate(self.benchmarks) if mask >> b & 1]


_LOADED: dict[str, BenchmarkIndex] = {}


def load_index(path: str | Path) -> BenchmarkIndex:
    """The index at `path`, loaded once per process."""
    key = str(Path(path).resolve())
    if key not in _LOADED:
        _LOADED[key] = BenchmarkIndex(path)
    return _LOADED[key]
