"""Per-partition work of the dedup stage: signatures (+ LSH band keys) in, kept rows out.

Every row of a repository is in one data/ordered partition (docs/contracts.md), so a repository's
document - its samples' texts in sample order - is always built from a single file, one repository
at a time. A document is named by `doc` = partition << 32 | its row in the partition's signature
file: a 64-bit id the shuffle can route without carrying repository names around.
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
from tasks.common.partitions import PartWriter, iter_batches, iter_repo_tables, partition_index
from tasks.dedup.config import Config
from tasks.dedup.lsh import doc_ids, write_bands
from tasks.dedup.shingles import document_shingles
from tasks.dedup.signature import SCHEME, pack, signature, unpack_many

_REASON_MAX = 200


def signature_schema(num_perm: int, cfg: Config | None = None) -> pa.Schema:
    """Columns of a signature partition; the metadata pins what the signatures were computed with."""
    fields = [
        pa.field("repo", pa.string(), nullable=False),
        pa.field("n_samples", pa.int32()),
        pa.field("size", pa.int64()),                       # UTF-8 bytes of the repo's texts
        pa.field("stars", pa.int64()),
        pa.field("n_shingles", pa.int64()),                 # distinct shingles
        pa.field("signature", pa.binary(4 * num_perm)),     # num_perm little-endian uint32; null if none
        pa.field("reason", pa.string()),                    # why there is no signature (empty, error: ...)
    ]
    meta = None
    if cfg is not None:
        meta = {b"dedup.num_perm": str(cfg.num_perm).encode(), b"dedup.seed": str(cfg.seed).encode(),
                b"dedup.shingle_size": str(cfg.shingle_size).encode(), b"dedup.scheme": SCHEME.encode()}
    return pa.schema(fields, metadata=meta)


def _texts(repo_table: pa.Table) -> list[bytes]:
    """The repo's sample texts in sample order, as UTF-8 bytes."""
    if "sample" in repo_table.column_names and repo_table.num_rows > 1:
        repo_table = repo_table.take(pc.sort_indices(repo_table, sort_keys=[("sample", "ascending")]))
    return [t.encode("utf-8", "surrogatepass") for t in repo_table.column("text").to_pylist() if t]


def signatures_shard(in_path: str | Path, sig_path: str | Path, cfg: Config,
                     bands_path: str | Path | None = None) -> dict[str, Any]:
    """Write one signature row per repository of a data/ordered partition (and, given `bands_path`,
    the partition's LSH band keys for the candidates shuffle); return counts and throughput."""
    t0 = time.perf_counter()
    names = pq.read_schema(in_path).names
    for required in ("repo", "text"):
        if required not in names:
            raise ValueError(f"{in_path}: column {required!r} missing (data/ordered contract)")
    out: dict[str, list[Any]] = {f.name: [] for f in signature_schema(cfg.num_perm)}
    sigs: list[np.ndarray] = []
    rows_with_sig: list[int] = []
    n_rows = n_bytes = n_shingles = n_empty = n_errors = n_null_repo = 0
    for table in iter_repo_tables(in_path, [c for c in ("repo", "sample", "stars", "text") if c in names]):
        repo = table.column("repo")[0].as_py()
        n_rows += table.num_rows
        if repo is None:
            n_null_repo += table.num_rows               # rows without an id cannot be kept per repo
            continue
        stars = [s for s in table.column("stars").to_pylist() if s is not None] if "stars" in names else []
        blobs = _texts(table)
        size = sum(len(b) for b in blobs)
        sig, reason, count = None, None, 0
        try:
            shingles = document_shingles(blobs, cfg.shingle_size)
            count = len(shingles)
            if count:
                values = signature(shingles, cfg.num_perm, cfg.seed)
                sig = pack(values)
                sigs.append(values)
                rows_with_sig.append(len(out["repo"]))
            else:
                reason = "empty"
                n_empty += 1
        except Exception as exc:  # one bad repository must not stop the partition
            reason = f"error: {type(exc).__name__}: {exc}"[:_REASON_MAX]
            n_errors += 1
        for key, value in (("repo", repo), ("n_samples", table.num_rows), ("size", size),
                           ("stars", max(stars) if stars else None), ("n_shingles", count),
                           ("signature", sig), ("reason", reason)):
            out[key].append(value)
        n_bytes += size
        n_shingles += count
    write_parquet(pa.table(out, schema=signature_schema(cfg.num_perm, cfg)), sig_path)
    band_rows = 0
    if bands_path is not None:
        bands, rows = cfg.lsh
        matrix = np.stack(sigs) if sigs else np.zeros((0, cfg.num_perm), dtype=np.uint32)
        docs = doc_ids(partition_index(in_path), np.asarray(rows_with_sig, dtype=np.int64))
        band_rows = write_bands(str(bands_path), docs, matrix, bands, rows)
    seconds = time.perf_counter() - t0
    return {"shard": Path(in_path).name, "repos": len(out["repo"]), "rows": n_rows,
            "rows_without_repo": n_null_repo, "bytes": n_bytes, "shingles": n_shingles, "empty": n_empty,
            "errors": n_errors, "band_rows": band_rows, "seconds": round(seconds, 4),
            "mb_per_s": round(n_bytes / seconds / 1e6, 3) if seconds > 0 else None}


def signatures_job(inputs: tuple[str, ...], outs: dict[str, str], cfg: Config) -> dict[str, Any]:
    """Job body: one data/ordered partition -> its signature partition and its band keys."""
    return signatures_shard(inputs[0], outs["signatures"], cfg, outs["bands"])


def read_signature_file(path: str | Path, cfg: Config) -> pa.Table:
    """A signature partition, checked against the config it must have been computed with."""
    table = read_parquet(path)
    meta = table.schema.metadata or {}
    for key, want in ((b"dedup.num_perm", cfg.num_perm), (b"dedup.seed", cfg.seed),
                      (b"dedup.shingle_size", cfg.shingle_size)):
        got = meta.get(key)
        if got is not None and got.decode() != str(want):
            raise ValueError(f"{path}: signatures made with {key.decode()}={got.decode()}, config says {want}")
    return table.cast(signature_schema(cfg.num_perm))


def signature_rows(table: pa.Table, rows: np.ndarray, num_perm: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(repo ids, sizes, uint32[n, num_perm] signatures) of the given rows of a signature partition."""
    picked = table.take(pa.array(rows.astype(np.int64), pa.int64()))
    blobs = picked.column("signature").to_pylist()
    if any(b is None for b in blobs):
        raise ValueError("signature_rows: a row without a signature was routed as a document")
    sizes = np.asarray(picked.column("size").fill_null(0).to_pylist(), dtype=np.int64)
    return picked.column("repo").to_pylist(), sizes, unpack_many(blobs, num_perm)


def load_shingles(ordered_path: str | Path, repos: Iterable[str], shingle_size: int) -> dict[str, np.ndarray]:
    """Shingle sets of the given repositories, recomputed from one data/ordered partition (only their rows)."""
    wanted = sorted(set(repos))
    if not wanted:
        return {}
    names = pq.read_schema(ordered_path).names
    cols = [c for c in ("repo", "sample", "text") if c in names]
    table = pq.read_table(ordered_path, columns=cols, filters=[("repo", "in", wanted)])
    out: dict[str, np.ndarray] = {}
    for repo in wanted:
        rows = table.filter(pc.equal(table.column("repo"), repo))
        if rows.num_rows:
            out[repo] = document_shingles(_texts(rows), shingle_size)
    return out


def apply_shard(in_path: str | Path, out_path: str | Path, drop_set: Iterable[str]) -> dict[str, Any]:
    """Copy a data/ordered partition without the rows of dropped repositories (whole repos, rows
    unchanged), batch by batch; counts and the kept samples' language mix back."""
    drop = pa.array(sorted(set(drop_set)), pa.string())
    schema = pq.read_schema(in_path)
    stats = {"rows_in": 0, "rows_out": 0, "bytes_in": 0, "bytes_out": 0}
    repos_in: set[str] = set()
    repos_out: set[str] = set()
    mix: dict[str, Any] = {}

    def _bytes(t: pa.Table) -> int:
        if "size" in t.column_names:
            return int(pc.sum(t.column("size")).as_py() or 0)
        return int(pc.sum(pc.binary_length(t.column("text").cast(pa.binary()))).as_py() or 0)

    with PartWriter(out_path, schema) as out:
        for batch in iter_batches(in_path):
            table = pa.Table.from_batches([batch], schema=schema)
            dropped = pc.fill_null(pc.is_in(table.column("repo"), value_set=drop), False)
            kept = table.filter(pc.invert(dropped))
            out.write(kept)
            stats["rows_in"] += table.num_rows
            stats["rows_out"] += kept.num_rows
            stats["bytes_in"] += _bytes(table)
            stats["bytes_out"] += _bytes(kept)
            repos_in.update(r for r in table.column("repo").to_pylist() if r is not None)
            repos_out.update(r for r in kept.column("repo").to_pylist() if r is not None)
            if "langs" in kept.column_names and "contents" in kept.column_names:
                add_mix(mix, language_mix(kept))
    return {"shard": Path(in_path).name, **stats, "repos_in": len(repos_in), "repos_out": len(repos_out),
            "repos_dropped": len(repos_in) - len(repos_out), "bytes_dropped": stats["bytes_in"] - stats["bytes_out"],
            "mix": dict(sorted(mix.items()))}
