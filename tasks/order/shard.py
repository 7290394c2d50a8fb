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

from tasks.common.mix import add_mix, language_mix
from tasks.common.partitions import PartWriter, iter_batches, iter_repo_tables
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
    """Ordered samples of all repos in `rows` (sorted by repo, sample) and the counters (tests, benchmarks)."""
    stats = new_stats()
    out: list[dict[str, Any]] = []
    groups = group_by_repo(rows)
    for repo in sorted(groups):
        out.extend(order_repo(groups[repo], cfg, stats, (build_files or {}).get(repo)))
    return out, stats


def read_build_files(raw_path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """go.mod / Cargo.toml texts of a data/raw partition, by repo (streamed: only matching rows kept).

    The filter stage drops them (no supported language), but they carry the Go module path and Rust
    crate names; the raw partition with the same name holds the same repos (docs/contracts.md).
    """
    found: dict[str, dict[str, str]] = {}
    for batch in iter_batches(raw_path, ["repo", "path", "content"]):
        mask = pc.fill_null(pc.match_substring_regex(batch.column("path"), BUILD_FILE_PATTERN), False)
        for row in batch.filter(mask).to_pylist():
            if row["content"] is not None:
                found.setdefault(row["repo"], {})[row["path"]] = row["content"]
    return found


def order_shard(in_path: str | os.PathLike, out_path: str | os.PathLike, cfg: Config,
                raw_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Order one data/filtered partition into one data/ordered partition; returns JSON-serialisable stats.

    Reads one repository at a time (the partition is grouped by repo), writes samples as they come.
    `raw_path` (optional): the data/raw partition with the same name, read only for go.mod/Cargo.toml.
    """
    started = time.perf_counter()
    names = pq.read_schema(in_path).names
    columns = [c for c in _INPUT if c in names]
    missing = {"repo", "path", "content"} - set(columns)
    if missing:
        raise ValueError(f"{in_path}: input shard lacks columns {sorted(missing)}")
    build_files = read_build_files(raw_path) if raw_path is not None else {}
    stats = new_stats()
    mix: dict[str, Any] = {}
    seen: set[str] = set()
    with PartWriter(out_path, SCHEMA) as out:
        for repo_table in iter_repo_tables(in_path, columns):
            repo = repo_table.column("repo")[0].as_py()
            if repo in seen:
                raise ValueError(f"{in_path}: rows of {repo!r} are not contiguous (partitions are grouped by repo)")
            seen.add(repo)
            samples = order_repo(repo_table.to_pylist(), cfg, stats, build_files.get(repo))
            if samples:
                table = pa.Table.from_pylist(samples, schema=SCHEMA)
                add_mix(mix, language_mix(table))
                out.write(table)
    stats["mix"] = mix
    stats["shards"] = 1
    stats["languages_with_grammar"] = languages_with_grammar()
    stats["languages_regex_only"] = sorted(REGEX_ONLY)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    return stats


def order_partition(inputs: tuple[str, ...], outs: dict[str, str], cfg: Config) -> dict[str, Any]:
    """Job body: data/filtered partition (+ the same data/raw partition, when there) -> data/ordered."""
    return order_shard(inputs[0], outs["out"], cfg, raw_path=inputs[1] if len(inputs) > 1 else None)
