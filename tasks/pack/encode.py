"""Phase 1 of packing, one work unit (a clean shard or a text-source file) per call.

Each document is split into train/val by its repo, FIM-transformed, encoded and appended to the
unit's token file; one index record per document keeps what the later phases need (token span,
source, split, hash draws). Only numpy id arrays are kept, never `Encoding` objects, and documents are
encoded `batch_size` at a time with `encode_batch_fast`, so memory stays bounded by one batch.

Everything written is a function of (unit input, config, tokenizer): no dependence on which worker
runs it or when.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer

from tasks.common.partitions import PartWriter, iter_batches

from tasks.common.hashing import stable_hash64
from tasks.pack import fim
from tasks.pack.config import SOURCES, Config, TextSource
from tasks.pack.format import dtype_for_vocab
from tasks.pack.sources import SOURCE_ID, Doc, read_clean_shard, read_text_source
from tasks.pack.split import SplitPlan
from tasks.pack.text_screen import rows_to_skip, skip_reason
from tasks.tokenizer.special import special_ids

SPLITS = ("train", "val")

INDEX_DTYPE = np.dtype([
    ("did", "<u8"),      # stable_hash64(doc_id): orders copies in the packed stream
    ("mix", "<u8"),      # draw for the main mixture's fractional repeat/drop
    ("cool", "<u8"),     # draw for the cool-down mixture
    ("offset", "<u8"),   # first token in the unit's token file
    ("ntok", "<u4"),
    ("bucket", "<u4"),   # text docs: a draw spreading them over the clean shards (draw % shards); clean docs: 0
    ("split", "u1"),     # 0 train, 1 val
    ("source", "u1"),    # index into SOURCES
    ("fim", "u1"),       # fim.PLAIN / PSM / SPM
    ("hq", "u1"),        # eligible as cool-down code
])

_TOKENIZERS: dict[str, Tokenizer] = {}


def load_tokenizer(path: str) -> Tokenizer:
    """One tokenizer per process; special-token strings in documents are encoded as plain text, so
    a file containing "<|EOT|>" cannot inject a control token."""
    tok = _TOKENIZERS.get(path)
    if tok is None:
        tok = Tokenizer.from_file(path)
        tok.encode_special_tokens = True
        _TOKENIZERS[path] = tok
    return tok


def is_hq(doc: Doc, cfg: Config) -> bool:
    cd = cfg.cooldown
    if not cd.languages and not cd.repos:
        return True
    langs = {x.lower() for x in cd.languages}
    if doc.main_lang and doc.main_lang.lower() in langs:
        return True
    return doc.repo in cd.repos or doc.repo.split("@", 1)[0] in cd.repos


def unit_files(work_dir: str | os.PathLike, index: int) -> tuple[Path, Path]:
    base = Path(work_dir) / f"unit-{index:05d}"
    return base.with_suffix(".tokens"), base.with_suffix(".index.npy")


def plan_units(clean_paths: list[str], cfg: Config) -> list[dict[str, Any]]:
    """Work units in a fixed order: clean shards (bucket = shard position), then text sources."""
    n_buckets = max(1, len(clean_paths))
    units: list[dict[str, Any]] = [{"index": i, "kind": "clean", "path": str(p), "bucket": i, "n_buckets": n_buckets}
                                   for i, p in enumerate(clean_paths)]
    for src in cfg.text_sources:
        units.append({"index": len(units), "kind": "text", "path": src.path, "source": src, "n_buckets": n_buckets})
    return units


def _docs(unit: dict[str, Any], cfg: Config) -> Iterator[list[Doc]]:
    if unit["kind"] == "clean":
        return read_clean_shard(unit["path"], cfg.code_text_languages, cfg.batch_size)
    src: TextSource = unit["source"]
    return read_text_source(src, cfg.batch_size)


# Encodings cost ~70 bytes per input character while alive, so one encode call is capped in
# characters as well as in documents, and a huge document is encoded in pieces.
MAX_PIECE_CHARS = 1 << 18
MAX_BATCH_CHARS = 1 << 20


def split_long(text: str, limit: int = MAX_PIECE_CHARS) -> list[str]:
    """Pieces of at most `limit` characters. Cuts go right after a newline that has a non-space
    character on both sides: the byte-level pre-tokenizer never joins across such a point, so the
    pieces encode to exactly the ids of the whole text. Where no such point exists in the second
    half of a window (one huge line, CRLF text), the cut is hard: ids may differ there, the text
    still round-trips."""
    if len(text) <= limit:
        return [text]
    out, start = [], 0
    while len(text) - start > limit:
        end, lo, cut = start + limit, start + limit // 2, -1
        pos = text.rfind("\n", lo, end)
        while pos > lo:
            if not text[pos - 1].isspace() and not text[pos + 1].isspace():
                cut = pos + 1
                break
            pos = text.rfind("\n", lo, pos)
        cut = end if cut == -1 else cut
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def encode_job(inputs: tuple[str, ...], outs: dict[str, str], unit: dict[str, Any], split: SplitPlan,
               cfg: Config, threads: int | None = None) -> dict[str, Any]:
    """Job body: one unit (inputs = its file, the tokenizer) -> its token and index files, and for a
    clean partition its validation documents as text (data/heldout). `threads`: the encoder's threads
    in this worker (set before its first encode; workers x threads = the cores)."""
    if threads:
        os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
    stats = encode_unit(unit, inputs[-1], outs["tokens"], outs["index"], split, cfg)
    if "heldout" in outs:
        stats["heldout_docs"] = write_heldout(unit["path"], outs["heldout"], split)
    return stats


HELDOUT_SCHEMA = pa.schema([("repo", pa.string()), ("sample", pa.int32()), ("text", pa.string())])


def write_heldout(clean_path: str, out_path: str, split: SplitPlan) -> int:
    """The validation documents of one data/clean partition (the packer's split), batch by batch."""
    n = 0
    with PartWriter(out_path, HELDOUT_SCHEMA) as out:
        for batch in iter_batches(clean_path, ["repo", "sample", "text"]):
            keep = [split.split_of(r, s) == 1 for r, s in zip(batch.column("repo").to_pylist(),
                                                                batch.column("sample").to_pylist())]
            rows = pa.Table.from_batches([batch]).filter(pa.array(keep, type=pa.bool_())).cast(HELDOUT_SCHEMA)
            out.write(rows)
            n += rows.num_rows
    return n


def encode_unit(unit: dict[str, Any], tokenizer_path: str, tok_path: str | os.PathLike, idx_path: str | os.PathLike,
                split: SplitPlan, cfg: Config) -> dict[str, Any]:
    """Encode one unit into its token file (little-endian ids) and index file (.npy); return its stats.
    A text source that text_screen saw (`unit["screen"]`: its hash file, the reducers' drops, its position)
    skips the rows it refused, counted by reason in `skipped`.

    Encoding runs in a helper thread (tokenizers releases the GIL), one batch ahead of the Python
    work of reading the next batch and turning the previous one into ids, so that Python overhead
    overlaps the encoder instead of leaving its threads idle. Batches are written in order."""
    screen = unit.get("screen")
    skip = rows_to_skip(screen["hashes"], screen["drops"], screen["position"]) if screen else None
    tok = load_tokenizer(tokenizer_path)
    sp = special_ids(tok)
    dtype = dtype_for_vocab(tok.get_vocab_size()).newbyteorder("<")
    records: list[tuple] = []
    skipped: Counter[str] = Counter()
    totals = {"bytes": 0, "offset": 0, "enc_s": 0.0}
    t0 = time.perf_counter()

    def encode(pieces: list[str]) -> tuple[list, float]:
        te = time.perf_counter()
        encs = tok.encode_batch_fast(pieces, add_special_tokens=False)
        return encs, time.perf_counter() - te

    def write(out, batch: list[tuple[Doc, fim.FimPlan, list[int]]], future: Future) -> None:
        encs, secs = future.result()
        totals["enc_s"] += secs
        pieces = [np.asarray(e.ids, dtype=np.int64) for e in encs]  # ids reach numpy once, per piece
        docs: list[np.ndarray] = []
        k = 0
        for doc, p, counts in batch:
            segs = []
            for n in counts:  # a long segment was encoded in n pieces
                segs.append(pieces[k] if n == 1 else np.concatenate(pieces[k:k + n]))
                k += n
            ids = fim.layout_array(p, segs, sp, cfg.add_bos)
            docs.append(ids)
            did = doc.doc_id
            # nothing positional in a unit's output: a night that inserts a partition before this
            # one reuses its encoding (the assembly places a clean unit by its position then)
            bucket = 0 if unit["kind"] == "clean" else stable_hash64(cfg.seed, "bucket", did) >> 32
            records.append((stable_hash64(did), stable_hash64(cfg.seed, "mix", did),
                            stable_hash64(cfg.seed, "cooldown", did), totals["offset"], len(ids), bucket,
                            split.split_of(doc.repo, doc.sample), SOURCE_ID[doc.source], p.mode,
                            int(doc.source != "code" or is_hq(doc, cfg))))
            totals["offset"] += len(ids)
        if docs:
            out.write(np.concatenate(docs).astype(dtype).tobytes())

    batch: list[tuple[Doc, fim.FimPlan, list[int]]] = []  # doc, plan, pieces per segment
    pieces: list[str] = []
    chars = 0
    in_flight: tuple[list, Future] | None = None
    with open(tok_path, "wb") as out, ThreadPoolExecutor(max_workers=1) as encoder:

        def submit() -> None:
            nonlocal batch, pieces, chars, in_flight
            if not batch:
                return
            future = encoder.submit(encode, pieces)
            if in_flight is not None:
                write(out, *in_flight)  # overlaps the encoding just submitted
            in_flight = (batch, future)
            batch, pieces, chars = [], [], 0

        for docs in _docs(unit, cfg):
            for doc in docs:
                if doc.skip is None and skip is not None:
                    doc.skip = skip_reason(int(doc.sample), skip)
                if doc.skip:
                    skipped[doc.skip] += 1
                    continue
                if doc.source == "text":
                    p = fim.FimPlan(fim.PLAIN)
                else:
                    p = fim.plan(len(doc.text), fim.doc_rng(cfg.seed, doc.repo, doc.sample),
                                 cfg.fim_rate, cfg.fim_spm_rate)
                counts = []
                for seg in fim.segments(doc.text, p):
                    parts = split_long(seg)
                    counts.append(len(parts))
                    pieces.extend(parts)
                batch.append((doc, p, counts))
                chars += len(doc.text)
                totals["bytes"] += len(doc.text.encode("utf-8"))
                if len(batch) >= cfg.batch_size or chars >= MAX_BATCH_CHARS:
                    submit()
        submit()
        if in_flight is not None:
            write(out, *in_flight)
    index = np.array(records, dtype=INDEX_DTYPE)
    with open(idx_path, "wb") as fh:  # np.save(path) would append .npy to a name without it
        np.save(fh, index)
    return {"kind": unit["kind"], "docs": len(records),
            "skipped": dict(sorted(skipped.items())), "bytes": totals["bytes"], "tokens": int(totals["offset"]),
            "encode_seconds": round(totals["enc_s"], 4), "seconds": round(time.perf_counter() - t0, 4),
            **summarise(index)}


def summarise(index: np.ndarray) -> dict[str, Any]:
    """Documents and tokens per split and source, FIM modes per split (before mixture sampling)."""
    out: dict[str, Any] = {"by_split": {}}
    for si, split in enumerate(SPLITS):
        sel = index[index["split"] == si]
        out["by_split"][split] = {
            "docs": {s: int((sel["source"] == i).sum()) for i, s in enumerate(SOURCES)},
            "tokens": {s: int(sel["ntok"][sel["source"] == i].sum()) for i, s in enumerate(SOURCES)},
            "fim": {name: int((sel["fim"] == m).sum()) for m, name in fim.MODE_NAMES.items()},
        }
    return out
