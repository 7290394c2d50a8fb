"""The crawl as partition jobs: one job per source, then one per data/raw partition.

A source's job is keyed by what it yields: its pinned spec (moving specs are resolved first, see
tasks/crawl/resolve.py) and the extraction settings. A pinned spec (a registry package at an exact
version, a git commit sha) yields the same rows forever, so its committed crawl is reused by a rerun
after a kill and by every later night; a local directory is keyed by a fingerprint of its files.
A partition's job is keyed by the keys of its sources, so it is rebuilt only when one of them changed.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.common.jobs import Job, JobRun, Runner, entry_path, stage_salt
from tasks.common.partitions import part_name, plan_partitions
from tasks.crawl.config import Config
from tasks.crawl.sources import repo_id, spec_key

SOURCE_STAGE, PARTITION_STAGE = "crawl-source", "crawl"


def _directory_fingerprint(root: str) -> str:
    """Paths, sizes and mtimes under a local source (what would change its rows), cheap to compute."""
    parts = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            parts.append(f"{os.path.relpath(full, root)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}")
    return "\n".join(parts)


def source_identity(spec: Any) -> str:
    """Key material of a source's crawl: the pinned spec (tasks.crawl.resolve), and for a local directory
    a fingerprint of its files."""
    if not isinstance(spec, dict):
        return f"invalid:{spec!r}"
    key = spec_key(spec)
    if spec.get("type") == "local" and isinstance(spec.get("path"), str) and os.path.isdir(spec["path"]):
        return key + "\n" + _directory_fingerprint(spec["path"])
    return key


def provisional_name(spec: Any) -> str:
    try:
        return repo_id(spec)
    except Exception:
        return "invalid-source"


def source_jobs(specs: list[Any], salt: str, cache: str) -> list[Job]:
    return [Job(stage=SOURCE_STAGE, name=provisional_name(spec), salt=salt, extra=source_identity(spec),
                outputs={"rows": None, "rejected": None}, cache=cache) for spec in specs]


def partition_jobs(kept: list[dict[str, Any]], out_dir: str | os.PathLike, salt: str, cache: str,
                   target_bytes: int, min_partitions: int) -> tuple[list[Job], Job, list[tuple[int, int]]]:
    """Jobs writing data/raw partitions (repos in id order, never split) and data/raw/rejected.parquet.

    `kept` are the summaries of the sources kept (sorted by repo, each carrying its job's `key`)."""
    items = [(s["repo"], s["text_bytes"] + s["files"]) for s in kept]
    ranges = plan_partitions(items, target_bytes, min_partitions=min_partitions)
    rows_of = [str(entry_path(SOURCE_STAGE, s["key"], "rows", cache)) for s in kept]
    rejected_of = [str(entry_path(SOURCE_STAGE, s["key"], "rejected", cache)) for s in kept]
    jobs = []
    for i, (a, b) in enumerate(ranges):
        jobs.append(Job(stage=PARTITION_STAGE, name=Path(part_name(i)).stem, salt=salt,
                        extra="\n".join(s["key"] for s in kept[a:b]), reads=tuple(rows_of[a:b]),
                        outputs={"part": str(Path(out_dir) / part_name(i))}, cache=cache))
    rejected = Job(stage=PARTITION_STAGE, name="rejected", salt=salt,
                   extra="rejected\n" + "\n".join(s["key"] for s in kept), reads=tuple(rejected_of),
                   outputs={"rejected": str(Path(out_dir) / "rejected.parquet")}, cache=cache)
    return jobs, rejected, ranges


@dataclass
class CrawlRun:
    fetched: JobRun                    # one summary per source, in source order
    written: JobRun                    # the partition jobs, then the rejected-members job
    quarantine: list[dict[str, Any]]
    partitions: int


def split_opted_out(sources: list[Any], cfg: Config) -> tuple[list[Any], list[dict[str, Any]]]:
    """(sources to crawl, summaries of the opted-out ones): an opted-out source is never fetched."""
    keep, out = [], []
    for spec in sources:
        reason = cfg.optout.match_spec(spec) if cfg.optout is not None and isinstance(spec, dict) else None
        if reason is None:
            keep.append(spec)
        else:
            out.append(_failed_summary(spec, reason))
    return keep, out


def pin_sources(sources: list[Any], cfg: Config, cache: str, runner: Runner) -> tuple[list[Any], list[dict[str, Any]],
                                                                                     list[dict[str, Any]]]:
    """(specs to crawl, snapshot entries, summaries of the sources that could not be resolved).

    With `crawl.snapshot` the pinned specs of that snapshot are crawled as they are (a replay); otherwise
    every moving spec is resolved now, one job each (never reused: a branch moves between two runs)."""
    from tasks.crawl.resolve import is_pinned, read_snapshot, resolve_job, snapshot_entries

    if cfg.snapshot:
        entries = read_snapshot(cfg.snapshot)
        return [e["resolved"] for e in entries if e["resolved"] is not None], entries, []
    moving = [i for i, spec in enumerate(sources) if not is_pinned(spec)]
    resolved: list[Any] = list(sources)
    failed: list[dict[str, Any]] = []
    if moving:
        jobs = [Job("crawl-resolve", provisional_name(sources[i]), "", extra=f"{spec_key(sources[i])}\n{time.time_ns()}",
                    cache=cache) for i in moving]
        run = runner(jobs, resolve_job, cfg, desc="resolve", per_job=[(sources[i],) for i in moving])
        for i, summary in zip(moving, run.summaries):
            resolved[i] = summary["resolved"]
            if summary["error"]:
                failed.append(_failed_summary(sources[i], f"unresolvable: {summary['error']}"))
    kept = [r for r in resolved if r is not None]
    return kept, snapshot_entries(sources, resolved), failed


def _failed_summary(spec: Any, reason: str) -> dict[str, Any]:
    """The summary of a source no job crawled (opted out, not resolvable): its reason, nothing else."""
    import json

    from tasks.crawl.fetch import redact

    return {"repo": provisional_name(spec), "source": spec.get("type") if isinstance(spec, dict) else None,
            "error": reason, "spec": redact(json.dumps(spec, sort_keys=True, default=str)), "files": 0, "bytes": 0,
            "text_files": 0, "text_bytes": 0, "by_language": {}, "skipped": {}, "rejected": {}, "truncated": None,
            "license": None, "stats": {}, "key": ""}


def run_crawl(sources: list[Any], cfg: Config, out_dir: str | os.PathLike, *, target_bytes: int,
              min_partitions: int, cache: str, runner: Runner) -> CrawlRun:
    """The whole crawl stage into `out_dir` (data/raw): sources, then partitions, the two tables and the
    snapshot of what was crawled.

    `runner` runs the jobs (flows._runtime.map_jobs in the flow, tasks.common.jobs.run_locally elsewhere)."""
    from tasks.crawl.crawl import crawl_source_files, dedupe, write_quarantine, write_raw_job
    from tasks.crawl.resolve import write_snapshot

    salt = stage_salt("crawl", cfg.output_params())
    sources, opted_out = split_opted_out(sources, cfg)
    cfg = dataclasses.replace(cfg, sources=(), optout=None)  # what every job receives: not the whole manifest
    sources, snapshot, unresolved = pin_sources(sources, cfg, cache, runner)
    opted_out += unresolved
    write_snapshot(Path(out_dir) / "snapshot.json", snapshot)
    fetched = runner(source_jobs(sources, salt, cache), crawl_source_files, cfg, desc="crawl",
                     per_job=[(spec,) for spec in sources])
    for summary, job in zip(fetched.summaries, fetched.jobs):
        summary["key"] = job["key"]
        if job["reused"]:  # a reused crawl downloaded nothing this run
            summary["stats"] = {"downloaded_bytes": 0, "cache_hit": True}
    fetched.summaries.extend(opted_out)  # no job ran for them: summaries with their reason
    kept, quarantine = dedupe(fetched.summaries)
    jobs, rejected, ranges = partition_jobs(kept, out_dir, stage_salt("crawl", {"target": target_bytes,
                                                                                "least": min_partitions}),
                                            cache, target_bytes, min_partitions)
    written = runner(jobs + [rejected], write_raw_job, desc="partition")
    write_quarantine(quarantine, Path(out_dir) / "quarantine.parquet")
    return CrawlRun(fetched, written, quarantine, len(ranges))
