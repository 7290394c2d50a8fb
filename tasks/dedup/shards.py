"""Per-partition work of the dedup stage: signatures (+ LSH band keys) in, kept rows out.

Every row of a repository is in one data/ordered partition (docs/contracts.md), so a document - a
repository, or one file (tasks/dedup/documents.py) - is always built from a single file, one
repository at a time. A document is named by `doc` = partition << 32 | its row in the partition's
signature file: a 64-bit id the shuffle can route without carrying repository names around.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.common.io import read_parquet, write_parquet
from tasks.common.mix import add_mix, language_mix
from tasks.common.partitions import PartWriter, iter_batches, partition_index
from tasks.dedup.config import Config
from tasks.dedup.documents import DocKey, FileKey, iter_documents
from tasks.dedup.exact import dropped_files
from tasks.dedup.lsh import write_bands
from tasks.dedup.shingles import document_shingles
from tasks.dedup.signature import SCHEME, pack, signature, unpack_many

_REASON_MAX = 200


def signature_schema(num_perm: int, cfg: Config | None = None) -> pa.Schema:
    """Columns of a signature partition (one row per document); the metadata pins what the signatures
    were computed with."""
    fields = [
        pa.field("repo", pa.string(), nullable=False),
        pa.field("sample", pa.int32()),                     # file granularity: the file's sample; else null
        pa.field("path", pa.string()),                      # file granularity: the file's path; else null
        pa.field("n_samples", pa.int32()),
        pa.field("size", pa.int64()),                       # UTF-8 bytes of the document's contents
        pa.field("stars", pa.int64()),
        pa.field("n_shingles", pa.int64()),                 # distinct shingles
        pa.field("signature", pa.binary(4 * num_perm)),     # num_perm little-endian uint32; null if none
        pa.field("reason", pa.string()),                    # why there is no signature (empty, error: ...)
    ]
    meta = None
    if cfg is not None:
        meta = {b"dedup.num_perm": str(cfg.num_perm).encode(), b"dedup.seed": str(cfg.seed).encode(),
                b"dedup.shingle_size": str(cfg.shingle_size).encode(), b"dedup.scheme": SCHEME.encode(),
                b"dedup.granularity": cfg.granularity.encode()}
    return pa.schema(fields, metadata=meta)


def signatures_shard(in_path: str | Path, sig_path: str | Path, cfg: Config, bands_path: str | Path | None = None,
                     excluded: frozenset[FileKey] = frozenset()) -> dict[str, Any]:
    """Write one signature row per document (repository or file, `cfg.granularity`) of a data/ordered
    partition, without the `excluded` files (exact duplicates); with `bands_path`, also the partition's
    LSH band keys for the candidates shuffle. Returns counts and throughput."""
    t0 = time.perf_counter()
    out: dict[str, list[Any]] = {f.name: [] for f in signature_schema(cfg.num_perm)}
    sigs: list[np.ndarray] = []
    rows_with_sig: list[int] = []
    n_bytes = n_shingles = n_empty = n_errors = n_null_repo = 0
    for doc in iter_documents(in_path, cfg.granularity, excluded):
        if isinstance(doc, tuple):
            n_null_repo += doc[1]                        # rows without an id cannot be kept per repo
            continue
        sig, reason, count = None, None, 0
        try:
            shingles = document_shingles(doc.blobs, cfg.shingle_size)
            count = len(shingles)
            if count:
                values = signature(shingles, cfg.num_perm, cfg.seed)
                sig = pack(values)
                sigs.append(values)
                rows_with_sig.append(len(out["repo"]))
            else:
                reason = "empty"
                n_empty += 1
        except Exception as exc:  # one bad document must not stop the partition
            reason = f"error: {type(exc).__name__}: {exc}"[:_REASON_MAX]
            n_errors += 1
        repo, sample, path = doc.key
        for key, value in (("repo", repo), ("sample", sample), ("path", path), ("n_samples", doc.n_samples),
                           ("size", doc.size), ("stars", doc.stars), ("n_shingles", count), ("signature", sig),
                           ("reason", reason)):
            out[key].append(value)
        n_bytes += doc.size
        n_shingles += count
    write_parquet(pa.table(out, schema=signature_schema(cfg.num_perm, cfg)), sig_path)
    band_rows = 0
    if bands_path is not None:
        bands, rows = cfg.lsh
        matrix = np.stack(sigs) if sigs else np.zeros((0, cfg.num_perm), dtype=np.uint32)
        band_rows = write_bands(str(bands_path), np.asarray(rows_with_sig, dtype=np.int64), matrix, bands, rows)
    seconds = time.perf_counter() - t0
    return {"shard": Path(in_path).name, "docs": len(out["repo"]), "repos": len(set(out["repo"])),
            "rows_without_repo": n_null_repo, "bytes": n_bytes, "shingles": n_shingles, "empty": n_empty,
            "errors": n_errors, "band_rows": band_rows, "seconds": round(seconds, 4),
            "mb_per_s": round(n_bytes / seconds / 1e6, 3) if seconds > 0 else None}


def signatures_job(inputs: tuple[str, ...], outs: dict[str, str], cfg: Config) -> dict[str, Any]:
    """Job body: one data/ordered partition (inputs[0]; then the exact-dedup drop files) -> its
    signature partition and its band keys."""
    excluded = dropped_files(inputs[1:], partition_index(inputs[0])) if len(inputs) > 1 else frozenset()
    return signatures_shard(inputs[0], outs["signatures"], cfg, outs["bands"], excluded)


def read_signature_file(path: str | Path, cfg: Config) -> pa.Table:
    """A signature partition, checked against the config it must have been computed with."""
    table = read_parquet(path)
    meta = table.schema.metadata or {}
    for key, want in ((b"dedup.num_perm", cfg.num_perm), (b"dedup.seed", cfg.seed),
                      (b"dedup.shingle_size", cfg.shingle_size), (b"dedup.granularity", cfg.granularity)):
        got = meta.get(key)
        if got is not None and got.decode() != str(want):
            raise ValueError(f"{path}: signatures made with {key.decode()}={got.decode()}, config says {want}")
    return table.cast(signature_schema(cfg.num_perm))


def doc_key(row: dict[str, Any]) -> DocKey:
    return row["repo"], row["sample"], row["path"]


def signature_rows(table: pa.Table, rows: np.ndarray, num_perm: int) -> tuple[list[DocKey], np.ndarray, np.ndarray]:
    """(document keys, sizes, uint32[n, num_perm] signatures) of the given rows of a signature partition."""
    picked = table.take(pa.array(rows.astype(np.int64), pa.int64()))
    blobs = picked.column("signature").to_pylist()
    if any(b is None for b in blobs):
        raise ValueError("signature_rows: a row without a signature was routed as a document")
    sizes = np.asarray(picked.column("size").fill_null(0).to_pylist(), dtype=np.int64)
    keys = list(zip(picked.column("repo").to_pylist(), picked.column("sample").to_pylist(),
                    picked.column("path").to_pylist()))
    return keys, sizes, unpack_many(blobs, num_perm)


def load_shingles(ordered_path: str | Path, keys: Iterable[DocKey], cfg: Config,
                  excluded: frozenset[FileKey] = frozenset()) -> dict[DocKey, np.ndarray]:
    """Shingle sets of the given documents, recomputed from one data/ordered partition (only their repos'
    rows), exactly as the signatures saw them."""
    wanted = set(keys)
    out: dict[DocKey, np.ndarray] = {}
    for doc in iter_documents(ordered_path, cfg.granularity, excluded, repos={k[0] for k in wanted}):
        if not isinstance(doc, tuple) and doc.key in wanted:
            out[doc.key] = document_shingles(doc.blobs, cfg.shingle_size)
    return out


def apply_shard(in_path: str | Path, out_path: str | Path, drop_repos: Iterable[str],
                drop_files: frozenset[FileKey] = frozenset(), exact_files: frozenset[FileKey] = frozenset()
                ) -> dict[str, Any]:
    """Copy a data/ordered partition without the dropped repositories (whole) and files (exact copies,
    and near-duplicate files at file granularity), batch by batch. A sample that lost files is
    re-rendered (tasks.order.render, as quality does); one that lost them all is dropped."""
    from tasks.order.render import render_sample

    drop = pa.array(sorted(set(drop_repos)), pa.string())
    touched = pa.array(sorted({k[0] for k in drop_files | exact_files}), pa.string())
    schema = pq.read_schema(in_path)
    stats = {"rows_in": 0, "rows_out": 0, "bytes_in": 0, "bytes_out": 0, "files_in": 0, "files_out": 0,
             "exact_files": 0, "exact_bytes": 0, "near_files": 0, "near_bytes": 0}
    repos_in: set[str] = set()
    repos_out: set[str] = set()
    mix: dict[str, Any] = {}
    mix_in: dict[str, Any] = {}

    def _bytes(t: pa.Table) -> int:
        if "size" in t.column_names:
            return int(pc.sum(t.column("size")).as_py() or 0)
        return int(pc.sum(pc.binary_length(t.column("text").cast(pa.binary()))).as_py() or 0)

    def _trim(row: dict[str, Any]) -> dict[str, Any] | None:
        keep = []
        for i, path in enumerate(row["files"]):
            key = (row["repo"], row["sample"], path)
            size = len((row["contents"][i] or "").encode("utf-8", "surrogatepass"))
            if key in exact_files:
                stats["exact_files"] += 1
                stats["exact_bytes"] += size
            elif key in drop_files:
                stats["near_files"] += 1
                stats["near_bytes"] += size
            else:
                keep.append(i)
        if len(keep) == len(row["files"]):
            return row
        if not keep:
            return None
        row = dict(row, files=[row["files"][i] for i in keep], langs=[row["langs"][i] for i in keep],
                   contents=[row["contents"][i] for i in keep])
        row["text"] = render_sample(row["files"], row["langs"], row["contents"])
        row["n_files"] = len(keep)
        row["size"] = len(row["text"].encode("utf-8", "surrogatepass"))
        return row

    with PartWriter(out_path, schema) as out:
        for batch in iter_batches(in_path):
            table = pa.Table.from_batches([batch], schema=schema)
            dropped = pc.fill_null(pc.is_in(table.column("repo"), value_set=drop), False)
            gone = table.filter(dropped)
            if gone.num_rows and "contents" in gone.column_names:  # whole repositories: every file counts
                stats["near_files"] += int(pc.sum(pc.list_value_length(gone.column("contents"))).as_py() or 0)
                stats["near_bytes"] += int(pc.sum(pc.binary_length(pc.list_flatten(gone.column("contents")))).as_py() or 0)
            kept = table.filter(pc.invert(dropped))
            changed = pc.fill_null(pc.is_in(kept.column("repo"), value_set=touched), False)
            if len(touched) and pc.any(changed).as_py():
                rows = [_trim(r) if c else r for r, c in zip(kept.to_pylist(), changed.to_pylist())]
                kept = pa.Table.from_pylist([r for r in rows if r is not None], schema=schema)
            out.write(kept)
            stats["rows_in"] += table.num_rows
            stats["rows_out"] += kept.num_rows
            stats["bytes_in"] += _bytes(table)
            stats["bytes_out"] += _bytes(kept)
            if "n_files" in table.column_names:
                stats["files_in"] += int(pc.sum(table.column("n_files")).as_py() or 0)
                stats["files_out"] += int(pc.sum(kept.column("n_files")).as_py() or 0)
            repos_in.update(r for r in table.column("repo").to_pylist() if r is not None)
            repos_out.update(r for r in kept.column("repo").to_pylist() if r is not None)
            if "langs" in kept.column_names and "contents" in kept.column_names:
                add_mix(mix, language_mix(kept))
                add_mix(mix_in, language_mix(table))
    return {"shard": Path(in_path).name, **stats, "repos_in": len(repos_in), "repos_out": len(repos_out),
            "repos_dropped": len(repos_in) - len(repos_out), "bytes_dropped": stats["bytes_in"] - stats["bytes_out"],
            "mix": dict(sorted(mix.items())), "mix_in": dict(sorted(mix_in.items()))}
