"""Stage `dedup` (DeepSeek-Coder §2.3): repository-level near-dedup as partition jobs and a file shuffle
(tasks/dedup/stage.py), the gate on the dropped share, metrics and artifacts. The flow process holds
job summaries only; every job commits to the partition cache, so a killed run redoes only what it had
not finished."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from flows._runtime import (map_jobs, markdown_table, partition_cache, partition_settings, prune_partitions,
                            publish_markdown, publish_table, run_drift_gate, run_gate, run_stage, timed, write_metrics,
                            write_timings)
from tasks.common.io import atomic_dir, list_shards
from tasks.common.jobs import link_output, stage_salt
from tasks.common.params import load_params, section
from tasks.dedup import Config, config_from_params
from tasks.dedup.stage import run_dedup

IN_DIR, SIG_DIR, OUT_DIR, CLUSTERS = "data/ordered", "data/dedup_signatures", "data/deduped", "data/dedup_clusters.parquet"
EXACT_DIR = "data/dedup_exact"


@flow(name="dedup", log_prints=True)
def dedup_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    raw = section(params, "dedup")
    cfg = config_from_params(raw)
    salt = stage_salt("dedup", {k: v for k, v in raw.items() if k != "gate"})
    target, _ = partition_settings(params)
    with atomic_dir(SIG_DIR) as sig_dir, atomic_dir(OUT_DIR) as out, atomic_dir(EXACT_DIR) as exact:
        run = run_dedup(list_shards(IN_DIR), sig_dir, out, cfg, salt=salt, cache=partition_cache(params),
                        target_bytes=target, runner=map_jobs, exact_dir=exact)
        metrics = run.metrics
        run_info = {"signature_seconds": metrics["signature"].pop("seconds", None),
                    "signature_mb_per_s_per_worker": metrics["signature"].pop("mb_per_s_per_worker", None)}
        publish_dedup_artifacts(metrics)
        gate_dedup(metrics, cfg)
        link_output(run.clusters, Path(CLUSTERS))
    for step, job_run in run.runs.items():
        prune_partitions(f"dedup-{step}", job_run, params)
    write_metrics("dedup", metrics)
    write_timings("dedup", {"seconds": elapsed(), **{k: v for k, v in run_info.items() if isinstance(v, (int, float))},
                            **{f"{step}_{k}": v for step, r in run.runs.items() for k, v in r.counts().items()}})
    return metrics


def gate_dedup(metrics: dict[str, Any], cfg: Config) -> None:
    import pandas as pd
    from expectations.suites import value_between

    lo, hi = cfg.gate_dropped_share
    table = pd.DataFrame([{"dropped_share": metrics["dropped_share"], "repos_in": metrics["repos_in"]}])
    run_gate("dedup", table, value_between("dropped_share", lo, hi) + value_between("repos_in", 1, None),
             mode=cfg.gate_policy.mode)
    run_drift_gate("dedup", metrics, cfg.gate_policy)


def publish_dedup_artifacts(metrics: dict[str, Any]) -> None:
    publish_table("dedup-dropped", metrics["dropped"],
                  "The largest dropped repositories: kept repo, cluster, estimated and exact Jaccard "
                  "(every cluster member is in data/dedup_clusters.parquet)")
    ex = metrics["exact"]
    publish_markdown("dedup-summary", (
        f"# Dedup\n\nExact: {ex['files_dropped']:,} duplicate files dropped ({ex['file_share']:.1%} of files, "
        f"{ex['byte_share']:.1%} of bytes) in {ex['groups']:,} groups. Near ({metrics['granularity']} level): "
        f"{metrics['near']['docs_dropped']} documents dropped; {metrics['repos_dropped']} of {metrics['repos_in']} "
        f"repositories gone ({metrics['dropped_share']:.1%}; {metrics['bytes_dropped']:,} bytes) in "
        f"{metrics['clusters']} clusters. "
        f"LSH {metrics['lsh']}, threshold {metrics['threshold']}, verification {metrics['verify']}; "
        f"{metrics['candidate_pairs']} candidate pairs ({metrics['buckets_capped']} buckets capped), "
        f"{metrics['similar_pairs']} similar.\n\n"
        "## Largest dropped\n\n" + markdown_table(metrics["dropped"][:20])), "Dedup summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(dedup_flow))
