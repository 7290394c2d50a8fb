"""Stage `filter`: the paper's rules over every data/raw shard in parallel, a reason for every drop,
then the Great Expectations gate on the pass rate and the language mix."""
from __future__ import annotations

from typing import Any

from prefect import flow

from flows._runtime import (map_partitions, markdown_table, prune_partitions, publish_markdown, publish_table,
                            run_drift_gate, run_gate, run_stage, timed, write_metrics, write_timings)
from tasks.common.io import atomic_dir
from tasks.common.params import load_params, section
from tasks.filter.config import Config, config_from_params
from tasks.filter.metrics import aggregate, language_share_table, pass_rate_table
from tasks.filter.shard import filter_partition

IN_DIR, OUT_DIR, DECISIONS_DIR = "data/raw", "data/filtered", "data/filter_decisions"
RUN_DEPENDENT = ("seconds", "throughput_mb_s")


def gate_filter(metrics: dict[str, Any], cfg: Config) -> None:
    from expectations.suites import filter_pass_rate, language_mix

    mode = cfg.gate.policy.mode
    bands = {"pass_rate_bytes": list(cfg.gate.pass_rate_bytes), "pass_rate_files": list(cfg.gate.pass_rate_files)}
    rates = pass_rate_table(metrics)
    run_gate("filter-pass-rate", rates, filter_pass_rate(bands, rates), mode=mode)
    shares = language_share_table(metrics)
    run_gate("filter-language-mix", shares, language_mix(cfg.gate.share_bounds(), cfg.supported(), shares), mode=mode)
    run_drift_gate("filter", metrics, cfg.gate.policy)


@flow(name="filter", log_prints=True)
def filter_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    raw = section(params, "filter")
    cfg = config_from_params(raw)
    with atomic_dir(OUT_DIR) as out, atomic_dir(DECISIONS_DIR) as decisions:
        run = map_partitions("filter", IN_DIR, {"out": out, "decisions": decisions}, filter_partition, cfg,
                             params=params, salt_params={k: v for k, v in raw.items() if k != "gate"})
        metrics = aggregate(run.summaries)
        run_info = {k: metrics.pop(k) for k in RUN_DEPENDENT if k in metrics}
        publish_filter_artifacts(metrics)
        gate_filter(metrics, cfg)  # a failed gate raises here: the new outputs are discarded
    prune_partitions("filter", run, params)
    write_metrics("filter", metrics)
    write_timings("filter", {"seconds": elapsed(), **run_info, **run.counts()})
    return metrics


def publish_filter_artifacts(metrics: dict[str, Any]) -> None:
    reasons = [{"reason": k, **v} for k, v in sorted(metrics["drops"].items(), key=lambda kv: -kv[1]["bytes"])] \
        if isinstance(metrics.get("drops"), dict) else []
    langs = [{"lang": k, **v} for k, v in sorted(metrics["by_language"].items(), key=lambda kv: -kv[1]["bytes_in"])]
    publish_table("filter-drop-reasons", reasons, "Files and bytes dropped by the first rule they failed")
    publish_table("filter-languages", langs, "Files and bytes in and kept, and pass rate, by language")
    publish_markdown("filter-summary", (
        f"# Filter\n\nKept {metrics['pass_rate_bytes']:.1%} of the bytes and {metrics['pass_rate_files']:.1%} of "
        f"the files (the paper keeps 32.8% of crawled data).\n\n## Drop reasons\n\n" + markdown_table(reasons)),
        "Filter summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(filter_flow))
