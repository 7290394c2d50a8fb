"""Stage `crawl`: every source of the manifest is one job (quarantined on failure, its rows committed to
the partition cache), then data/raw is cut into byte-sized partitions of whole repositories, plus the
rejected-member and quarantine tables and metrics/crawl.json. The flow process holds summaries only."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from flows._runtime import (map_jobs, markdown_table, partition_cache, partition_settings, publish_markdown,
                            publish_table, run_stage, timed, write_metrics, write_timings)
from tasks.common.io import atomic_dir
from tasks.common.jobs import prune
from tasks.common.params import load_params, section
from tasks.crawl.config import config_from_params
from tasks.crawl.crawl import aggregate, load_sources
from tasks.crawl.plan import PARTITION_STAGE, SOURCE_STAGE, run_crawl

OUT_DIR = "data/raw"
# These vary between a first run and a rerun from the download cache: reported, never in metrics.
RUN_DEPENDENT = ("downloaded_bytes", "cache_hits")
TOP_ROWS = 200  # per-repo rows shown in the Prefect artifact (all of them are in the data)


def repo_rows(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"repo": s["repo"], "source": s["source"], "files": s["files"], "bytes": s["bytes"],
             "rejected": sum(s["rejected"].values()), "truncated": (s.get("truncated") or {}).get("reason", ""),
             "error": s["error"] or ""} for s in sorted(summaries, key=lambda r: (-r["bytes"], r["repo"]))]


@flow(name="crawl", log_prints=True)
def crawl_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    cfg = config_from_params(section(params, "crawl"))
    target, least = partition_settings(params)
    cache = partition_cache(params)
    sources = load_sources(cfg)
    print(f"crawling {len(sources)} sources into {OUT_DIR} (partitions of ~{target / 2**20:.1f} MiB)")
    with atomic_dir(OUT_DIR) as out:
        run = run_crawl(sources, cfg, out, target_bytes=target, min_partitions=least, cache=cache, runner=map_jobs)
    fetched, written = run.fetched, run.written
    prune(SOURCE_STAGE, fetched.keys, cache)
    prune(PARTITION_STAGE, written.keys, cache)
    changes = record_delta(Path(OUT_DIR) / "snapshot.json", Path(cache) / LAST_SNAPSHOT)

    metrics = aggregate(fetched.summaries)
    metrics["partitions"] = run.partitions
    run_info = {k: metrics.pop(k) for k in RUN_DEPENDENT}
    write_metrics("crawl", metrics)
    write_timings("crawl", {"seconds": elapsed(), **run_info, "sources_added": len(changes["added"]),
                            "sources_changed": len(changes["changed"]), "sources_removed": len(changes["removed"]),
                            **{f"sources_{k}": v for k, v in fetched.counts().items()},
                            **{f"partitions_{k}": v for k, v in written.counts().items()}})

    langs = [{"lang": k, **v, "share_bytes": v["bytes"] / max(1, metrics["bytes"])}
             for k, v in sorted(metrics["by_language"].items(), key=lambda kv: -kv[1]["bytes"])]
    publish_table("crawl-repos", repo_rows(fetched.summaries)[:TOP_ROWS],
                  f"The {TOP_ROWS} largest crawled sources: files, bytes, rejected members, truncation, error")
    publish_table("crawl-languages", langs, "Crawled files and bytes by language")
    publish_markdown("crawl-summary", (
        f"# Crawl\n\n{metrics['repos']} repositories, {metrics['files']} files, {metrics['bytes']:,} bytes "
        f"in {run.partitions} partitions ({metrics['repos_failed']} quarantined, {metrics['truncated']['kept']} kept "
        f"truncated); {sum(metrics['rejected'].values())} archive members rejected; downloaded "
        f"{run_info['downloaded_bytes']:,} bytes ({run_info['cache_hits']} cache hits). Sources: "
        f"{fetched.reused} reused from committed crawls, {fetched.computed} crawled.\n\n"
        "## Quarantined sources\n\n" + markdown_table(metrics["failures"], ["repo", "error"])
        + "\n## Rejected members by reason\n\n"
        + markdown_table([{"reason": k, "members": v} for k, v in metrics["rejected"].items()])),
        "Crawl summary")
    return metrics


LAST_SNAPSHOT = "crawl-last-snapshot.json"  # beside the partition cache: DVC removes data/raw before a rerun


def record_delta(snapshot: Path, last: Path) -> dict[str, Any]:
    """What changed since the last successful crawl (sources added, removed, moved to another version or
    commit), written to reports/delta/crawl.json; this crawl's snapshot becomes the last one."""
    import shutil

    from tasks.common.io import atomic_write_json
    from tasks.crawl.resolve import delta, read_snapshot

    previous = read_snapshot(last) if last.is_file() else None
    changes = delta(previous, read_snapshot(snapshot))
    atomic_write_json(Path("reports") / "delta" / "crawl.json", changes)
    last.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(snapshot, last)
    return changes


def delta_markdown(changes: dict[str, Any]) -> str:
    if not changes["previous"]:
        return f"First crawl here: {len(changes['added'])} sources.\n"
    rows = ([{"source": s, "change": "added"} for s in changes["added"]]
            + [{"source": s, "change": "removed"} for s in changes["removed"]]
            + [{"source": c["source"], "change": f"{c['from']} -> {c['to']}"} for c in changes["changed"]])
    return markdown_table(rows[:TOP_ROWS]) if rows else "No source changed.\n"


if __name__ == "__main__":
    raise SystemExit(run_stage(crawl_flow))
