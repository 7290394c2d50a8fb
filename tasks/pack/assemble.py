"""Phase 2 of packing: lay the chosen document copies end to end and cut fixed-length sequences.

Documents are concatenated and cut every `seq_len` tokens, so a document may continue from one
sequence into the next (as the DeepSeek-Coder/nanoGPT-style packing does; BOS/EOS mark the
boundaries, no padding is spent). Only the last partial sequence of a split is dropped (counted).

Order: buckets in ascending order (bucket = clean shard position; text documents are spread over the
buckets by hash), and inside a bucket by a per-copy hash, which shuffles documents and keeps copies
of a repeated document apart. The order is a function of the data and seed only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tasks.common.hashing import stable_hash64
from tasks.pack.config import SOURCES
from tasks.pack.fim import MODE_NAMES
from tasks.pack.format import write_header, write_shard

_TEXT = SOURCES.index("text")

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, vectorised (uint64 arithmetic wraps identically everywhere)."""
    with np.errstate(over="ignore"):
        x = x.astype(np.uint64, copy=True)
        x ^= x >> np.uint64(30); x *= _M1
        x ^= x >> np.uint64(27); x *= _M2
        x ^= x >> np.uint64(31)
    return x


def copy_keys(did: np.ndarray, repeat: np.ndarray, salt: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return mix64(did ^ mix64(repeat.astype(np.uint64) * _GOLDEN + np.uint64(salt)))


@dataclass
class SequenceWriter:
    """Buffers tokens and writes whole-sequence shards of at most `shard_tokens` tokens."""

    split_dir: Path
    seq_len: int
    dtype: np.dtype
    shard_tokens: int
    shards: list[dict[str, Any]] = field(default_factory=list)
    tail_dropped: int = 0
    first_index: int = 0        # appending: shards are numbered after the split's existing ones

    def __post_init__(self) -> None:
        self.split_dir.mkdir(parents=True, exist_ok=True)
        self._cap = max(1, self.shard_tokens // self.seq_len) * self.seq_len
        self._buf = np.empty(self._cap, dtype=self.dtype)
        self._n = 0

    def add(self, tokens: np.ndarray) -> None:
        pos = 0
        while pos < len(tokens):
            take = min(self._cap - self._n, len(tokens) - pos)
            self._buf[self._n:self._n + take] = tokens[pos:pos + take]
            self._n += take
            pos += take
            if self._n == self._cap:
                self._flush(self._n)

    def _flush(self, n: int) -> None:
        self.shards.append(write_shard(self.split_dir, self.first_index + len(self.shards), self._buf[:n],
                                       self.seq_len))
        self._n = 0

    def close(self) -> None:
        whole = self._n // self.seq_len * self.seq_len
        self.tail_dropped = self._n - whole
        if whole:
            self._flush(whole)
        self._n = 0


def write_split(split_dir: Path, *, units: list[dict[str, Any]], load_index: Callable[[int], np.ndarray],
                load_tokens: Callable[[int], np.ndarray], n_buckets: int, copies_of: Callable[[np.ndarray], np.ndarray],
                seq_len: int, dtype: np.dtype, shard_tokens: int, salt: int, mixture_plan: dict[str, Any],
                header_extra: dict[str, Any], vocab_size: int, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write one split directory; `copies_of(index)` gives each record's copy count (0 = not in
    this split). Returns the header written (counts, achieved mixture, FIM share).

    `previous`: the header of the split as an earlier night wrote it, whose shards are already in
    `split_dir`: the new sequences are appended as further shards and the header counts both."""
    writer = SequenceWriter(split_dir, seq_len, dtype, shard_tokens,
                            first_index=len(previous["shards"]) if previous else 0)
    tokens_by_source = {s: 0 for s in SOURCES}
    docs_by_source = {s: 0 for s in SOURCES}
    fim_counts = {name: 0 for name in MODE_NAMES.values()}
    text_units = [u for u in units if u["kind"] == "text"]
    for b in range(n_buckets):
        parts = []
        members = [u for u in units if u["kind"] == "clean" and u["bucket"] == b] + text_units
        for u in members:
            index = load_index(u["index"])
            n = copies_of(index)
            keep = n > 0
            if u["kind"] == "text":  # spread over the buckets by their draw; a clean unit is all bucket b
                keep &= (index["bucket"] % n_buckets) == b
            if not keep.any():
                continue
            rec = index[keep]
            reps = n[keep]
            row = np.repeat(np.arange(len(rec)), reps)
            starts = np.repeat(np.cumsum(reps) - reps, reps)
            rep = np.arange(len(row), dtype=np.int64) - starts  # copy number 0..k-1 of each record
            parts.append((u["index"], rec, row, rep))
            for si, s in enumerate(SOURCES):
                m = rec["source"] == si
                tokens_by_source[s] += int((rec["ntok"][m].astype(np.int64) * reps[m]).sum())
                docs_by_source[s] += int(reps[m].sum())
            for mode, name in MODE_NAMES.items():
                fim_counts[name] += int(reps[(rec["fim"] == mode) & (rec["source"] != _TEXT)].sum())
        if not parts:
            continue
        keys = np.concatenate([copy_keys(rec["did"][row], rep, salt) for _, rec, row, rep in parts])
        unit_ix = np.concatenate([np.full(len(row), ui, dtype=np.int64) for ui, _, row, _ in parts])
        offsets = np.concatenate([rec["offset"][row] for _, rec, row, _ in parts])
        ntoks = np.concatenate([rec["ntok"][row] for _, rec, row, _ in parts])
        order = np.lexsort((offsets, unit_ix, keys))
        tokens = {ui: load_tokens(ui) for ui, _, _, _ in parts}
        for i in order:
            o = int(offsets[i])
            writer.add(tokens[int(unit_ix[i])][o:o + int(ntoks[i])])
    writer.close()
    clean_docs = sum(fim_counts.values())
    fim_docs = fim_counts["psm"] + fim_counts["spm"]
    total = sum(tokens_by_source.values())
    mixture = {
        "requested": mixture_plan["requested"],
        "effective": mixture_plan["effective"],
        "missing_sources": mixture_plan["missing_sources"],
        "achieved": {s: round(t / total, 6) if total else 0.0 for s, t in tokens_by_source.items()},
        "available_tokens": {s: p["available_tokens"] for s, p in mixture_plan["sources"].items()},
        "multiplier": {s: p["multiplier"] for s, p in mixture_plan["sources"].items()},
        "target_tokens": mixture_plan["total_target"],
    }
    fim = {**fim_counts, "code_documents": clean_docs,
           "share": round(fim_docs / clean_docs, 6) if clean_docs else 0.0,
           "spm_share_of_fim": round(fim_counts["spm"] / fim_docs, 6) if fim_docs else 0.0}
    this = {"shards": [s["file"] for s in writer.shards], "documents": sum(docs_by_source.values()),
            "tokens": sum(tokens_by_source.values()), "mixture": mixture, "fim": fim}
    if previous is not None:  # an append: the counts of the whole split, this night's part listed
        tokens_by_source = {s: tokens_by_source[s] + int(previous["tokens_by_source"].get(s, 0)) for s in SOURCES}
        docs_by_source = {s: docs_by_source[s] + int(previous["documents_by_source"].get(s, 0)) for s in SOURCES}
        appends = list(previous.get("appends") or [{k: previous.get(k) for k in ("documents", "mixture", "fim")}
                                                   | {"shards": [s["file"] for s in previous["shards"]]}]) + [this]
    else:
        appends = [this]
    header = write_header(
        split_dir, dtype=dtype, seq_len=seq_len, vocab_size=vocab_size,
        shards=(previous["shards"] if previous else []) + writer.shards,
        documents=sum(docs_by_source.values()), documents_by_source=docs_by_source,
        tokens_by_source=tokens_by_source, tail_tokens_dropped=writer.tail_dropped, mixture=mixture, fim=fim,
        appends=appends, **header_extra)
    return header


def order_salt(seed: int, split: str) -> int:
    return stable_hash64(seed, "order", split)
