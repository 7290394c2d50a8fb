"""Stage `order` (DeepSeek-Coder §2.2): dependency parsing with tree-sitter, files of each repo ordered
by their import/include/using edges, one repo-level sample per dependency subgraph."""
from __future__ import annotations

from typing import Any

from prefect import flow

from expectations.baseline import GatePolicy, policy_from_params
from flows._runtime import (map_partitions, markdown_table, prune_partitions, publish_markdown, publish_table,
                            run_drift_gate, run_gate, run_stage, timed, write_metrics, write_timings)
from tasks.common.io import atomic_dir
from tasks.common.params import load_params, number
from tasks.order import aggregate, config_from_params, order_partition

IN_DIR, RAW_DIR, OUT_DIR = "data/redacted", "data/raw", "data/ordered"


def gate_order(metrics: dict[str, Any], min_resolution_rate: float, policy: GatePolicy = GatePolicy()) -> None:
    """Every file with content reaches exactly one sample, in-repo imports mostly resolve, and the resolution
    rate stays near the accepted run's."""
    import pandas as pd
    from expectations.suites import value_between

    table = pd.DataFrame([{"resolution_rate": metrics["resolution_rate"] or 0.0,
                           "samples": metrics["samples"], "files_lost": metrics["files_lost"]}])
    run_gate("order", table, value_between("resolution_rate", min_resolution_rate, 1.0)
             + value_between("files_lost", 0, 0) + value_between("samples", 1, None), mode=policy.mode)
    run_drift_gate("order", metrics, policy)


def files_lost(stats: list[dict[str, Any]], metrics: dict[str, Any]) -> int:
    """Files with content that reached no sample (must be 0: ordering never drops data)."""
    placed = sum(int(n) * count for s in stats for n, count in s["files_per_sample"].items())
    files = metrics["files"]
    return files["in"] - files["no_content"] - files["duplicate_path"] - placed


@flow(name="order", log_prints=True)
def order_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    section = dict(params.get("order") or {})
    gate = section.pop("gate", {}) or {}
    cfg = config_from_params(section)
    min_rate = number({"order": {"gate": gate}}, "order.gate.min_resolution_rate", lo=0, hi=1, default=0.0)
    policy = policy_from_params("order", gate, bands=("min_resolution_rate",))
    with atomic_dir(OUT_DIR) as out:
        run = map_partitions("order", IN_DIR, {"out": out}, order_partition, cfg, params=params,
                             salt_params=section, side_dirs=[RAW_DIR])
        stats = run.summaries
        metrics = aggregate(stats)
        seconds = metrics.pop("seconds", None)
        metrics["files_lost"] = files_lost(stats, metrics)
        publish_order_artifacts(metrics)
        gate_order(metrics, min_rate, policy)
    prune_partitions("order", run, params)
    write_metrics("order", metrics)
    write_timings("order", {"seconds": elapsed(), "worker_seconds": seconds or 0.0, **run.counts()})
    return metrics


def publish_order_artifacts(metrics: dict[str, Any]) -> None:
    langs = [{"lang": k, **v} for k, v in sorted(metrics["languages"].items(), key=lambda kv: -kv[1]["files"])]
    publish_table("order-languages", langs, "Dependency statements found and resolved per language")
    hist = [{"files_per_sample": k, "samples": v} for k, v in metrics["files_per_sample_hist"].items()]
    publish_markdown("order-summary", (
        f"# Order\n\n{metrics['samples']} samples from {metrics['repos']} repos; {metrics['deps_found']} "
        f"dependency statements, {metrics['deps_resolved']} resolved in-repo (rate {metrics['resolution_rate']}), "
        f"{metrics['edges']} edges, {metrics['cycles_broken']} cycle breaks.\n\n## Files per sample\n\n"
        + markdown_table(hist)), "Order summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(order_flow))
