"""Per-shard work the flow fans out: repository signatures in, kept rows out.

Every row of a repository is in one data/ordered shard (docs/contracts.md), so a repository's
document - its samples' texts in sample order - is always built from a single file.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.common.io import read_parquet, write_parquet
from tasks.dedup.config import Config
from tasks.dedup.shingles import document_shingles
from tasks.dedup.signature import SCHEME, pack, signature, unpack_many

_REASON_MAX = 200


def signature_schema(num_perm: int, cfg: Config | None = None) -> pa.Schema:
    """Columns of a signature shard; the metadata pins what the signatures were computed with."""
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


def _grouped_rows(path: str | Path, columns: Sequence[str]) -> dict[str, list[Any]]:
    """The shard's columns as Python lists, sorted by (repo, sample) whatever the file order."""
    names = pq.read_schema(path).names
    for required in ("repo", "text"):
        if required not in names:
            raise ValueError(f"{path}: column {required!r} missing (data/ordered contract)")
    cols = [c for c in columns if c in names]
    table = pq.read_table(path, columns=cols)
    keys = [("repo", "ascending")] + ([("sample", "ascending")] if "sample" in cols else [])
    table = table.take(pc.sort_indices(table, sort_keys=keys))  # nulls last
    out = {c: table.column(c).to_pylist() for c in cols}
    for c in columns:
        out.setdefault(c, [None] * table.num_rows)
    return out


def _runs(repos: list[str | None]) -> Iterable[tuple[str | None, int, int]]:
    start = 0
    for i in range(1, len(repos) + 1):
        if i == len(repos) or repos[i] != repos[start]:
            yield repos[start], start, i
            start = i


def signatures_shard(in_path: str | Path, sig_path: str | Path, cfg: Config) -> dict[str, Any]:
    """Write one signature row per repository of a data/ordered shard; return counts and throughput."""
    t0 = time.perf_counter()
    rows = _grouped_rows(in_path, ("repo", "sample", "stars", "text"))
    out: dict[str, list[Any]] = {f.name: [] for f in signature_schema(cfg.num_perm)}
    n_bytes = n_shingles = n_empty = n_errors = n_null_repo = 0
    for repo, lo, hi in _runs(rows["repo"]):
        if repo is None:
            n_null_repo += hi - lo                    # rows without an id cannot be kept per repo
            continue
        stars = [s for s in rows["stars"][lo:hi] if s is not None]
        blobs = [t.encode("utf-8", "surrogatepass") for t in rows["text"][lo:hi] if t]
        size = sum(len(b) for b in blobs)
        sig, reason, count = None, None, 0
        try:
            shingles = document_shingles(blobs, cfg.shingle_size)
            count = len(shingles)
            if count:
                sig = pack(signature(shingles, cfg.num_perm, cfg.seed))
            else:
                reason = "empty"
                n_empty += 1
        except Exception as exc:  # one bad repository must not stop the shard
            reason = f"error: {type(exc).__name__}: {exc}"[:_REASON_MAX]
            n_errors += 1
        for key, value in (("repo", repo), ("n_samples", hi - lo), ("size", size),
                           ("stars", max(stars) if stars else None), ("n_shingles", count),
                           ("signature", sig), ("reason", reason)):
            out[key].append(value)
        n_bytes += size
        n_shingles += count
    write_parquet(pa.table(out, schema=signature_schema(cfg.num_perm, cfg)), sig_path)
    seconds = time.perf_counter() - t0
    return {"shard": Path(in_path).name, "repos": len(out["repo"]), "rows": len(rows["repo"]),
            "rows_without_repo": n_null_repo, "bytes": n_bytes, "shingles": n_shingles, "empty": n_empty,
            "errors": n_errors, "seconds": round(seconds, 4),
            "mb_per_s": round(n_bytes / seconds / 1e6, 3) if seconds > 0 else None}


@dataclass
class SignatureTable:
    """All repositories' signatures, sorted by repo id (independent of shard order)."""
    repos: list[str]
    size: np.ndarray            # int64
    stars: list[int | None]
    n_shingles: np.ndarray      # int64
    sigs: np.ndarray            # uint32[n, num_perm]; rows of repos without a signature are unused
    has_sig: np.ndarray         # bool
    reasons: dict[str, str]     # repo -> why it has no signature
    duplicates: list[str]       # repo ids found in more than one signature row (contract violation)


def read_signatures(sig_paths: Iterable[str | Path], cfg: Config) -> SignatureTable:
    tables = []
    for path in sorted(str(p) for p in sig_paths):
        table = read_parquet(path)
        meta = table.schema.metadata or {}
        for key, want in ((b"dedup.num_perm", cfg.num_perm), (b"dedup.seed", cfg.seed),
                          (b"dedup.shingle_size", cfg.shingle_size)):
            got = meta.get(key)
            if got is not None and got.decode() != str(want):
                raise ValueError(f"{path}: signatures made with {key.decode()}={got.decode()}, config says {want}")
        tables.append(table.cast(signature_schema(cfg.num_perm)))
    if not tables:
        raise ValueError("cluster: no signature shards given")
    table = pa.concat_tables(tables)
    table = table.take(pc.sort_indices(table, sort_keys=[("repo", "ascending"), ("n_shingles", "descending"),
                                                         ("size", "descending")]))
    repos = table.column("repo").to_pylist()
    keep = [i for i in range(len(repos)) if i == 0 or repos[i] != repos[i - 1]]
    duplicates = sorted({repos[i] for i in range(1, len(repos)) if repos[i] == repos[i - 1]})
    if len(keep) != len(repos):
        table = table.take(pa.array(keep, pa.int64()))
        repos = table.column("repo").to_pylist()
    blobs = table.column("signature").to_pylist()
    has_sig = np.array([b is not None for b in blobs], dtype=bool)
    sigs = np.full((len(repos), cfg.num_perm), 0xFFFFFFFF, dtype=np.uint32)
    if has_sig.any():
        sigs[has_sig] = unpack_many([b for b in blobs if b is not None], cfg.num_perm)
    reasons = {r: why for r, why in zip(repos, table.column("reason").to_pylist()) if why is not None}
    return SignatureTable(
        repos=repos,
        size=np.array(table.column("size").fill_null(0).to_pylist(), dtype=np.int64),
        stars=table.column("stars").to_pylist(),
        n_shingles=np.array(table.column("n_shingles").fill_null(0).to_pylist(), dtype=np.int64),
        sigs=sigs, has_sig=has_sig, reasons=reasons, duplicates=duplicates)


@dataclass(frozen=True)
class ShardShingleLoader:
    """Recomputes the shingle sets of given repositories from data/ordered shards (for exact Jaccard).

    Picklable; reads only the rows of the wanted repos (Parquet predicate on `repo`).
    """
    in_paths: tuple[str, ...]
    shingle_size: int

    def __call__(self, repos: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = sorted(set(repos))
        if not wanted:
            return {}
        texts: dict[str, list[tuple[int, str]]] = {}
        for path in self.in_paths:
            names = pq.read_schema(path).names
            cols = [c for c in ("repo", "sample", "text") if c in names]
            table = pq.read_table(path, columns=cols, filters=[("repo", "in", wanted)])
            samples = table.column("sample").to_pylist() if "sample" in cols else list(range(table.num_rows))
            for repo, sample, text in zip(table.column("repo").to_pylist(), samples,
                                          table.column("text").to_pylist()):
                texts.setdefault(repo, []).append((sample if sample is not None else -1, text or ""))
        return {repo: document_shingles([t for _, t in sorted(parts, key=lambda p: p[0])], self.shingle_size)
                for repo, parts in sorted(texts.items())}


def shard_shingle_loader(in_paths: Iterable[str | Path], cfg: Config) -> ShardShingleLoader:
    return ShardShingleLoader(tuple(sorted(str(p) for p in in_paths)), cfg.shingle_size)


def apply_shard(in_path: str | Path, out_path: str | Path, drop_set: Iterable[str]) -> dict[str, Any]:
    """Copy a data/ordered shard without the rows of dropped repositories (whole repos, rows unchanged)."""
    table = read_parquet(in_path)
    drop = pa.array(sorted(set(drop_set)), pa.string())
    repo = table.column("repo")
    dropped_mask = pc.fill_null(pc.is_in(repo, value_set=drop), False)
    kept = table.filter(pc.invert(dropped_mask))
    write_parquet(kept, out_path)

    def _bytes(t: pa.Table) -> int:
        if "size" in t.column_names:
            return int(pc.sum(t.column("size")).as_py() or 0)
        return int(pc.sum(pc.binary_length(t.column("text").cast(pa.binary()))).as_py() or 0)

    repos_in = pc.count_distinct(repo).as_py()
    repos_out = pc.count_distinct(kept.column("repo")).as_py()
    bytes_in, bytes_out = _bytes(table), _bytes(kept)
    return {"shard": Path(in_path).name, "rows_in": table.num_rows, "rows_out": kept.num_rows,
            "repos_in": repos_in, "repos_out": repos_out, "repos_dropped": repos_in - repos_out,
            "bytes_in": bytes_in, "bytes_out": bytes_out, "bytes_dropped": bytes_in - bytes_out}
