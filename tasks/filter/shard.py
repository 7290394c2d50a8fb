"""Filter one data/raw shard: kept rows to data/filtered, one decision per file to data/filter_decisions.

The per-shard unit the flow fans out to worker processes: arguments are paths and the (picklable)
Config, the result a JSON-serialisable stats dict that `metrics.aggregate` sums.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.common.partitions import PartWriter, iter_batches
from tasks.filter.config import Config
from tasks.filter.rules import LICENSE_POLICY, decide_column

REQUIRED_COLUMNS = ("repo", "path", "lang", "size", "content")
DECISIONS_SCHEMA = pa.schema([
    ("repo", pa.string()),
    ("path", pa.string()),
    ("lang", pa.string()),
    ("size", pa.int64()),
    ("kept", pa.bool_()),
    ("reason", pa.string()),
])
UNKNOWN_LANGUAGE = "(unknown)"  # metrics key for lang null


def license_verdicts(licenses: list[str | None], cfg: Config) -> dict[str | None, str | None]:
    """Each distinct licence expression's verdict under the policy: None = kept, else the policy's reason."""
    if cfg.licenses is None:
        return {}
    out: dict[str | None, str | None] = {}
    for lic in set(licenses):
        decision = cfg.licenses.decide(lic)
        out[lic] = None if decision.keep else decision.reason
    return out


def decide_table(table: pa.Table, cfg: Config, supported: frozenset[str] | None = None) -> list[str | None]:
    """Drop reason of every row of a data/raw table (None = kept), chunk by chunk (zero-copy).

    A repository whose licence the policy refuses loses every file, with reason `license_policy` first."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"not a data/raw table: missing column(s) {', '.join(missing)}")
    supported = cfg.supported() if supported is None else supported
    langs = table.column("lang").to_pylist()
    skips = table.column("skip_reason").to_pylist() if "skip_reason" in table.column_names else [None] * len(langs)
    reasons: list[str | None] = []
    for chunk in table.column("content").chunks:
        a, b = len(reasons), len(reasons) + len(chunk)
        reasons.extend(decide_column(chunk, langs[a:b], cfg, skips[a:b], supported))
    if cfg.licenses is not None and "license" in table.column_names:
        licenses = table.column("license").to_pylist()
        verdicts = license_verdicts(licenses, cfg)
        reasons = [LICENSE_POLICY if verdicts.get(lic) else r for lic, r in zip(licenses, reasons)]
    return reasons


def shard_stats(langs: list[str | None], sizes: list[int], reasons: list[str | None]) -> dict[str, Any]:
    """Counts of one shard: totals, drops by reason, totals by language (all in files and bytes)."""
    stats: dict[str, Any] = {"files_in": 0, "bytes_in": 0, "files_kept": 0, "bytes_kept": 0,
                             "drops": {}, "by_language": {}}
    for lang, size, reason in zip(langs, sizes, reasons):
        size = int(size or 0)
        per_lang = stats["by_language"].setdefault(
            lang if lang is not None else UNKNOWN_LANGUAGE,
            {"files_in": 0, "bytes_in": 0, "files_kept": 0, "bytes_kept": 0})
        stats["files_in"] += 1
        stats["bytes_in"] += size
        per_lang["files_in"] += 1
        per_lang["bytes_in"] += size
        if reason is None:
            stats["files_kept"] += 1
            stats["bytes_kept"] += size
            per_lang["files_kept"] += 1
            per_lang["bytes_kept"] += size
        else:
            drop = stats["drops"].setdefault(reason, {"files": 0, "bytes": 0})
            drop["files"] += 1
            drop["bytes"] += size
    stats["drops"] = dict(sorted(stats["drops"].items()))
    stats["by_language"] = dict(sorted(stats["by_language"].items()))
    return stats


def _merge(acc: dict[str, Any], part: dict[str, Any]) -> None:
    for key in ("files_in", "bytes_in", "files_kept", "bytes_kept"):
        acc[key] += part[key]
    for group in ("drops", "by_language"):
        for name, counts in part[group].items():
            slot = acc[group].setdefault(name, dict.fromkeys(counts, 0))
            for k, v in counts.items():
                slot[k] += v


def filter_shard(in_path: str, out_path: str, decisions_path: str, cfg: Config) -> dict[str, Any]:
    """Write the kept rows of `in_path` (same schema, same order) and its decisions; return stats.

    Streams the partition batch by batch: memory is one bounded row group, not the partition."""
    started = time.perf_counter()
    schema = pq.read_schema(in_path)
    stats = shard_stats([], [], [])
    dropped_repos: dict[str, str] = {}
    supported = cfg.supported()
    with PartWriter(out_path, schema) as out, PartWriter(decisions_path, DECISIONS_SCHEMA) as decisions:
        for batch in iter_batches(in_path):
            table = pa.Table.from_batches([batch], schema=schema)
            reasons = decide_table(table, cfg, supported)
            kept = pa.array([r is None for r in reasons], type=pa.bool_())
            out.write(table.filter(kept))
            decisions.write(pa.table({
                "repo": table.column("repo").cast(pa.string()),
                "path": table.column("path").cast(pa.string()),
                "lang": table.column("lang").cast(pa.string()),
                "size": table.column("size").cast(pa.int64()),
                "kept": kept,
                "reason": pa.array(reasons, type=pa.string()),
            }, schema=DECISIONS_SCHEMA))
            _merge(stats, shard_stats(table.column("lang").to_pylist(), table.column("size").to_pylist(), reasons))
            if "license" in table.column_names:
                for repo, lic, reason in zip(table.column("repo").to_pylist(), table.column("license").to_pylist(),
                                             reasons):
                    if reason == LICENSE_POLICY:
                        dropped_repos.setdefault(repo, lic or "(none)")
    stats["drops"] = dict(sorted(stats["drops"].items()))
    stats["by_language"] = dict(sorted(stats["by_language"].items()))
    stats["license_dropped"] = dict(Counter(dropped_repos.values()))  # repos dropped per licence expression
    stats["shard"] = Path(in_path).name
    stats["seconds"] = round(time.perf_counter() - started, 6)
    return stats


def filter_partition(inputs: tuple[str, ...], outs: dict[str, str], cfg: Config) -> dict[str, Any]:
    """Job body: one data/raw partition -> its data/filtered partition and its decisions."""
    return filter_shard(inputs[0], outs["out"], outs["decisions"], cfg)
