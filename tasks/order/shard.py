"""Per-shard entry point: data/filtered shard in, data/ordered shard out, counters back.

Repos never cross shards (see docs/contracts.md), so a shard is ordered on its own; the lead fans
`order_shard` out over worker processes. Output rows are sorted by (repo, sample) and written with
the shared fixed-option Parquet writer, so the same input rows give the same bytes in any row order.
"""
from __future__ import annotations

import os
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.common.io import read_parquet, write_parquet
from tasks.order.config import Config
from tasks.order.languages import REGEX_ONLY, languages_with_grammar
from tasks.order.repo import group_by_repo, new_stats, order_repo

SCHEMA = pa.schema([
    ("repo", pa.string()), ("source", pa.string()), ("license", pa.string()), ("version", pa.string()),
    ("stars", pa.int64()), ("sample", pa.int32()), ("files", pa.list_(pa.string())),
    ("langs", pa.list_(pa.string())), ("contents", pa.list_(pa.string())), ("text", pa.string()),
    ("n_files", pa.int32()), ("size", pa.int64()),
])
BUILD_FILE_PATTERN = r"(^|/)(go\.mod|Cargo\.toml)$"
_INPUT = ("repo", "source", "path", "lang", "content", "stars", "license", "version")


def order_rows(rows: list[dict[str, Any]], cfg: Config,
               build_files: dict[str, dict[str, str]] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ordered samples of all repos in `rows` (sorted by repo, sample) and the counters.

    `build_files`: {repo: {path: text}} of go.mod / Cargo.toml files the filter stage dropped.
    """
    stats = new_stats()
    out: list[dict[str, Any]] = []
    groups = group_by_repo(rows)
    for repo in sorted(groups):
        out.extend(order_repo(groups[repo], cfg, stats, (build_files or {}).get(repo)))
    return out, stats


def read_build_files(raw_path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """go.mod / Cargo.toml texts of a data/raw shard, by repo.

    The filter stage drops them (no supported language), but they carry the Go module path and Rust
    crate names; the raw shard with the same index holds the same repos (docs/contracts.md).
    """
    table = read_parquet(raw_path, columns=["repo", "path", "content"])
    mask = pc.match_substring_regex(table["path"], BUILD_FILE_PATTERN)
    found: dict[str, dict[str, str]] = {}
    for row in table.filter(pc.fill_null(mask, False)).to_pylist():
        if row["content"] is not None:
            found.setdefault(row["repo"], {})[row["path"]] = row["content"]
    return found


def order_shard(in_path: str | os.PathLike, out_path: str | os.PathLike, cfg: Config,
                raw_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Order one data/filtered shard into one data/ordered shard; returns JSON-serialisable stats.

    `raw_path` (optional): the data/raw shard with the same index, read only for go.mod/Cargo.toml.
    """
    started = time.perf_counter()
    names = pq.read_schema(in_path).names
    columns = [c for c in _INPUT if c in names]
    missing = {"repo", "path", "content"} - set(columns)
    if missing:
        raise ValueError(f"{in_path}: input shard lacks columns {sorted(missing)}")
    rows = read_parquet(in_path, columns=columns).to_pylist()
    samples, stats = order_rows(rows, cfg, read_build_files(raw_path) if raw_path is not None else None)
    write_parquet(pa.Table.from_pylist(samples, schema=SCHEMA), out_path)
    stats["shards"] = 1
    stats["languages_with_grammar"] = languages_with_grammar()
    stats["languages_regex_only"] = sorted(REGEX_ONLY)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    return stats
