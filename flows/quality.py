"""Stage `quality` (DeepSeek-Coder §2.4): drop files with syntax errors, poor readability or poor
modularity from their repo-level samples, then remove anything sharing a 10-gram (or, for short items,
the whole item) with the benchmarks' test data."""
from __future__ import annotations

from typing import Any

from prefect import flow

from flows._runtime import (map_partitions, markdown_table, prune_partitions, publish_markdown, publish_table,
                            run_drift_gate, run_gate, run_stage, timed, write_metrics, write_timings)
from tasks.common.io import atomic_dir
from tasks.common.params import load_params, section
from tasks.quality import Config, aggregate, build_benchmark_index, config_from_params, contamination_rows, \
    quality_partition

IN_DIR, OUT_DIR, DECISIONS_DIR = "data/deduped", "data/clean", "data/quality_decisions"


@flow(name="quality", log_prints=True)
def quality_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    raw = section(params, "quality")
    cfg = config_from_params(raw)
    index_path = str(build_benchmark_index(cfg, cfg.decontam.cache_dir))
    with atomic_dir(OUT_DIR) as out, atomic_dir(DECISIONS_DIR) as decisions:
        run = map_partitions("quality", IN_DIR, {"out": out, "decisions": decisions}, quality_partition, cfg,
                             index_path, params=params, salt_params={k: v for k, v in raw.items() if k != "gate"})
        stats = run.summaries
        metrics = aggregate(stats)
        seconds = metrics.pop("seconds", {})
        publish_quality_artifacts(metrics, contamination_rows(stats))
        gate_quality(metrics, cfg)
    prune_partitions("quality", run, params)
    write_metrics("quality", metrics)
    write_timings("quality", {"seconds": elapsed(), **{f"worker_{k}": v for k, v in seconds.items()}, **run.counts()})
    return metrics


def gate_quality(metrics: dict[str, Any], cfg: Config) -> None:
    import pandas as pd
    from expectations.suites import value_between

    table = pd.DataFrame([{"contaminated_files": metrics["contamination"]["files"],
                           "removed_file_share": metrics["files"]["removed_share"],
                           "samples_out": metrics["samples"]["out"]}])
    run_gate("quality", table, value_between("contaminated_files", 0, cfg.gate.max_contaminated_files)
             + value_between("removed_file_share", 0.0, cfg.gate.max_removed_file_share)
             + value_between("samples_out", 1, None), mode=cfg.gate.policy.mode)
    run_drift_gate("quality", metrics, cfg.gate.policy)


def publish_quality_artifacts(metrics: dict[str, Any], hits: list[dict[str, Any]]) -> None:
    reasons = [{"reason": k, **v} for k, v in sorted(metrics["removed"].items(), key=lambda kv: -kv[1]["bytes"])]
    benches = [{"benchmark": k, **v} for k, v in metrics["contamination"]["per_benchmark"].items()]
    publish_table("quality-reasons", reasons, "Files and bytes removed per screening reason")
    publish_table("quality-contamination", hits, "Contamination hits per repo and benchmark")
    publish_markdown("quality-summary", (
        f"# Quality\n\nRemoved {metrics['files']['removed']} of {metrics['files']['in']} files "
        f"({metrics['bytes']['removed_share']:.1%} of bytes); {metrics['contamination']['files']} contaminated files "
        f"in {metrics['contamination']['repos']} repos.\n\n## Reasons\n\n" + markdown_table(reasons)
        + "\n## Contamination by benchmark\n\n" + markdown_table(benches)), "Quality summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(quality_flow))
