"""Exact file dedup across the whole corpus, before near-dedup (OpenCoder's first step).

A file's identity is a 128-bit hash of its normalised text: line endings made `\\n`, trailing white
space removed from every line, leading and trailing blank lines removed (so a copy re-saved by another
editor still counts as the same file). Files shorter than `exact.min_chars` after normalisation (empty
`__init__.py`, one-line stubs) are never dropped: they carry the repository's structure, not content.

As a shuffle: one job per partition hashes its files (with their repository's rank) into a file sorted
by routing value; one job per routing range groups equal hashes, keeps the copy the near-dedup rank
prefers (stars desc, repository size desc, repository id, then path) and records every other copy with
the kept one. No process ever holds more than one partition or one range of hashes.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa

from tasks.common.partitions import iter_repo_tables
from tasks.common.shuffle import column_array, read_range, read_range_by_file, route_of, write_sorted
from tasks.dedup.rank import rank_key
from tasks.dedup.config import Config
from tasks.dedup.documents import FileKey

HASHES_SCHEMA = pa.schema([
    ("route", pa.int64()), ("digest", pa.binary(16)), ("repo", pa.string()),
    ("sample", pa.int32()), ("path", pa.string()), ("size", pa.int64()), ("stars", pa.int64()),
    ("repo_size", pa.int64()),
])
EXACT_SCHEMA = pa.schema([   # data/dedup_exact/: one row per dropped copy, with the copy kept
    ("pa", pa.int64()), ("repo", pa.string()), ("sample", pa.int32()), ("path", pa.string()),
    ("size", pa.int64()), ("kept_repo", pa.string()), ("kept_sample", pa.int32()), ("kept_path", pa.string()),
])


def normalise(text: str) -> str:
    """The text exact dedup compares (see the module docstring)."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def digest(text: str) -> bytes:
    return hashlib.blake2b(normalise(text).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def hashes_job(inputs: tuple[str, ...], outs: dict[str, str], cfg: Config) -> dict[str, Any]:
    """Job body: every file of one data/ordered partition as (route, digest, where, rank) rows (which
    partition is the groups job's to know: its inputs come in partition order)."""
    rows: dict[str, list[Any]] = {f.name: [] for f in HASHES_SCHEMA}
    files = skipped_short = 0
    for table in iter_repo_tables(inputs[0], ["repo", "sample", "stars", "files", "contents"]):
        repo = table.column("repo")[0].as_py()
        if repo is None:
            continue
        stars = [s for s in table.column("stars").to_pylist() if s is not None]
        entries = []
        for sample, paths, contents in zip(table.column("sample").to_pylist(), table.column("files").to_pylist(),
                                           table.column("contents").to_pylist()):
            for path, content in zip(paths or [], contents or []):
                if content is not None:
                    entries.append((sample, path, content))
        repo_size = sum(len(c.encode("utf-8", "surrogatepass")) for _, _, c in entries)
        for sample, path, content in entries:
            files += 1
            norm = normalise(content)
            if len(norm) < cfg.exact_min_chars:
                skipped_short += 1
                continue
            d = hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            for key, value in (("digest", d), ("repo", repo), ("sample", sample), ("path", path),
                               ("size", len(content.encode("utf-8", "surrogatepass"))),
                               ("stars", max(stars) if stars else None), ("repo_size", repo_size)):
                rows[key].append(value)
    keys = np.frombuffer(b"".join(d[:8] for d in rows["digest"]), dtype="<u8") if rows["digest"] else \
        np.zeros(0, np.uint64)
    rows["route"] = route_of(keys).tolist()
    write_sorted(outs["hashes"], pa.table(rows, schema=HASHES_SCHEMA), ["route", "digest", "repo", "sample",
                                                                        "path"])
    return {"files": files, "hashed": len(rows["digest"]), "short": skipped_short}


def groups_job(inputs: tuple[str, ...], outs: dict[str, str], lo: int, hi: int | None, cfg: Config) -> dict[str, Any]:
    """Job body: one routing range of every partition's hashes -> the dropped copies (routed by partition)."""
    table = read_range_by_file(inputs, "route", lo, hi, [f.name for f in HASHES_SCHEMA], tag="pa")  # pa: partition
    dropped: dict[str, list[Any]] = {f.name: [] for f in EXACT_SCHEMA}
    groups = 0
    if table.num_rows:
        table = table.sort_by([("digest", "ascending")])
        digests = table.column("digest").to_pylist()
        rows = table.to_pylist()  # one routing range: bounded by the shuffle's target bytes
        start = 0
        for i in range(1, len(rows) + 1):
            if i < len(rows) and digests[i] == digests[start]:
                continue
            if i - start > 1:
                groups += 1
                members = sorted(rows[start:i], key=lambda r: _rank(cfg, r))
                best = members[0]
                for r in members[1:]:
                    for key, value in (("pa", r["pa"]), ("repo", r["repo"]), ("sample", r["sample"]),
                                       ("path", r["path"]), ("size", r["size"]), ("kept_repo", best["repo"]),
                                       ("kept_sample", best["sample"]), ("kept_path", best["path"])):
                        dropped[key].append(value)
            start = i
    out = pa.table(dropped, schema=EXACT_SCHEMA)
    write_sorted(outs["dropped"], out, ["pa", "repo", "sample", "path"])
    sizes = column_array(out, "size", np.int64)
    return {"hashed": table.num_rows, "groups": groups, "files_dropped": out.num_rows, "bytes_dropped": int(sizes.sum())}


def _rank(cfg: Config, row: dict[str, Any]) -> tuple:
    return rank_key(cfg, row["repo"], row["repo_size"], row["stars"], 0) + (row["path"], row["sample"])


def dropped_files(paths: tuple[str, ...], partition: int) -> frozenset[FileKey]:
    """(repo, sample, path) of the copies exact dedup dropped from one partition."""
    table = read_range(paths, "pa", partition, partition + 1, ["repo", "sample", "path"])
    return frozenset(zip(table.column("repo").to_pylist(), table.column("sample").to_pylist(),
                         table.column("path").to_pylist()))
