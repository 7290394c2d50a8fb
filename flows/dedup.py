"""Stage `dedup` (DeepSeek-Coder §2.3): repository-level near-dedup. MinHash signatures per shard in
parallel, LSH (in memory, or a shared Redis index) over all repos, candidates verified by exact Jaccard,
one repo kept per cluster; whole repositories are dropped, never single files."""
from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from flows._runtime import (map_shards, markdown_table, publish_markdown, publish_table, run_gate, run_stage,
                            timed, write_metrics, write_timings)
from tasks.common.io import atomic_dir, list_shards
from tasks.common.params import load_params, section
from tasks.dedup import (Config, aggregate, apply_shard, cluster, config_from_params, index_shard, reset_index,
                         shard_shingle_loader, signatures_shard, write_clusters)

IN_DIR, SIG_DIR, OUT_DIR, CLUSTERS = "data/ordered", "data/dedup_signatures", "data/deduped", "data/dedup_clusters.parquet"
# wall-clock figures inside the metrics: moved to reports/timings/ so metrics stay reproducible
RUN_DEPENDENT = ("cluster_seconds",)


@task(name="dedup-signatures", cache_policy=NO_CACHE)
def signatures_task(in_path: str, sig_path: str, cfg: Config) -> dict[str, Any]:
    return signatures_shard(in_path, sig_path, cfg)


@task(name="dedup-index-shard", cache_policy=NO_CACHE)
def index_task(sig_path: str, cfg: Config) -> dict[str, Any]:
    return index_shard(sig_path, cfg)


@task(name="dedup-apply", cache_policy=NO_CACHE)
def apply_task(in_path: str, out_path: str, drop_set: list[str]) -> dict[str, Any]:
    return apply_shard(in_path, out_path, drop_set)


@flow(name="dedup", log_prints=True)
def dedup_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    cfg = config_from_params(section(load_params(params_path), "dedup"))
    shards = list_shards(IN_DIR)
    with atomic_dir(SIG_DIR) as sig_dir, atomic_dir(OUT_DIR) as out:
        sig_paths = [str(sig_dir / s.name) for s in shards]
        sig_stats = map_shards(signatures_task, [(str(s), p, cfg) for s, p in zip(shards, sig_paths)], "signatures")
        shared_index = cfg.storage.type == "redis"
        if shared_index:  # workers insert their shards into the one Redis-backed LSH index
            reset_index(cfg)
            map_shards(index_task, [(p, cfg) for p in sig_paths], "lsh-index")
        rows, dropped, cluster_stats = cluster(sig_paths, cfg, shard_shingle_loader([str(s) for s in shards], cfg),
                                               index_prebuilt=shared_index)
        print(f"{len(dropped)} repositories dropped in {cluster_stats.get('clusters', 0)} clusters")
        apply_stats = map_shards(apply_task, [(str(s), str(out / s.name), dropped) for s in shards], "apply")
        metrics = aggregate(sig_stats, cluster_stats, apply_stats, cfg)
        run_info = {k: metrics.pop(k) for k in RUN_DEPENDENT if k in metrics}
        signature_speed = metrics.get("signature", {})
        for k in ("seconds", "mb_per_s_per_worker"):
            run_info[f"signature_{k}"] = signature_speed.pop(k, None)
        publish_dedup_artifacts(rows, metrics)
        gate_dedup(metrics, cfg)
        write_clusters(rows, CLUSTERS)
    write_metrics("dedup", metrics)
    write_timings("dedup", {"seconds": elapsed(), **{k: v for k, v in run_info.items() if isinstance(v, (int, float))}})
    return metrics


def gate_dedup(metrics: dict[str, Any], cfg: Config) -> None:
    import pandas as pd
    from expectations.suites import value_between

    lo, hi = cfg.gate_dropped_share
    table = pd.DataFrame([{"dropped_share": metrics["dropped_share"], "repos_in": metrics["repos_in"]}])
    run_gate("dedup", table, value_between("dropped_share", lo, hi) + value_between("repos_in", 1, None))


def publish_dedup_artifacts(rows: list[dict[str, Any]], metrics: dict[str, Any]) -> None:
    publish_table("dedup-clusters", rows, "Near-duplicate clusters: kept repo, dropped repos, estimated and exact Jaccard")
    publish_markdown("dedup-summary", (
        f"# Dedup\n\n{metrics['repos_dropped']} of {metrics['repos_in']} repositories dropped "
        f"({metrics['dropped_share']:.1%}; {metrics['bytes_dropped']:,} bytes) in {metrics['clusters']} clusters. "
        f"LSH {metrics['lsh']}, threshold {metrics['threshold']}, verification {metrics['verify']}.\n\n"
        "## Dropped\n\n" + markdown_table(metrics["dropped"])), "Dedup summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(dedup_flow))
