"""Stage `crawl`: fetch every source of the manifest (one task each, quarantined on failure) and write
data/raw shards, the rejected-member and quarantine tables, and metrics/crawl.json."""
from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from flows._runtime import (map_shards, markdown_table, publish_markdown, publish_table, run_stage, timed,
                            write_metrics, write_timings)
from tasks.common.io import atomic_dir
from tasks.common.params import load_params, section
from tasks.crawl.config import Config, config_from_params
from tasks.crawl.crawl import aggregate, crawl_source, load_sources, write_raw

OUT_DIR = "data/raw"
# These vary between a first run and a rerun from the download cache: reported, never in metrics.
RUN_DEPENDENT = ("downloaded_bytes", "cache_hits")


@task(name="crawl-source", cache_policy=NO_CACHE)
def crawl_source_task(spec: dict[str, Any], cfg: Config) -> dict[str, Any]:
    return crawl_source(spec, cfg)


def repo_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for res in sorted(results, key=lambda r: r["repo"]):
        rows.append({"repo": res["repo"], "source": res["source"], "files": len(res["rows"]),
                     "bytes": sum(r["size"] for r in res["rows"]), "rejected": len(res["rejected"]),
                     "error": res["error"] or ""})
    return rows


@flow(name="crawl", log_prints=True)
def crawl_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    cfg = config_from_params(section(load_params(params_path), "crawl"))
    sources = load_sources(cfg)
    print(f"crawling {len(sources)} sources into {OUT_DIR} ({cfg.n_shards} shards)")
    results = map_shards(crawl_source_task, [(spec, cfg) for spec in sources], "crawl")
    with atomic_dir(OUT_DIR) as out:
        written = write_raw(results, str(out), cfg.n_shards)
    metrics = aggregate(results)
    run_info = {k: metrics.pop(k) for k in RUN_DEPENDENT}
    write_metrics("crawl", metrics)
    write_timings("crawl", {"seconds": elapsed(), **run_info})

    langs = [{"lang": k, **v, "share_bytes": v["bytes"] / max(1, metrics["bytes"])}
             for k, v in sorted(metrics["by_language"].items(), key=lambda kv: -kv[1]["bytes"])]
    publish_table("crawl-repos", repo_rows(results), "Every crawled source: files, bytes, rejected members, error")
    publish_table("crawl-languages", langs, "Crawled files and bytes by language")
    publish_markdown("crawl-summary", (
        f"# Crawl\n\n{metrics['repos']} repositories, {metrics['files']} files, {metrics['bytes']:,} bytes "
        f"({metrics['repos_failed']} quarantined); {written['rejected']} archive members rejected; "
        f"downloaded {run_info['downloaded_bytes']:,} bytes ({run_info['cache_hits']} cache hits).\n\n"
        "## Quarantined sources\n\n" + markdown_table(metrics["failures"], ["repo", "error"])
        + "\n## Rejected members by reason\n\n"
        + markdown_table([{"reason": k, "members": v} for k, v in metrics["rejected"].items()])),
        "Crawl summary")
    return metrics


if __name__ == "__main__":
    raise SystemExit(run_stage(crawl_flow))
