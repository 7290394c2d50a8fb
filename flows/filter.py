"""Stage `filter`: the paper's rules over every data/raw shard in parallel, a reason for every drop,
then the Great Expectations gate on the pass rate and the language mix."""
from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from flows._runtime import (map_shards, markdown_table, publish_markdown, publish_table, run_gate, run_stage,
                            timed, write_metrics, write_timings)
from tasks.common.io import atomic_dir, list_shards
from tasks.common.params import load_params, section
from tasks.filter.config import Config, config_from_params
from tasks.filter.metrics import aggregate, language_share_table, pass_rate_table
from tasks.filter.shard import filter_shard

IN_DIR, OUT_DIR, DECISIONS_DIR = "data/raw", "data/filtered", "data/filter_decisions"
RUN_DEPENDENT = ("seconds", "throughput_mb_s")


@task(name="filter-shard", cache_policy=NO_CACHE)
def filter_shard_task(in_path: str, out_path: str, decisions_path: str, cfg: Config) -> dict[str, Any]:
    return filter_shard(in_path, out_path, decisions_path, cfg)


def gate_filter(metrics: dict[str, Any], cfg: Config) -> None:
    from expectations.suites import filter_pass_rate, language_mix

    bands = {"pass_rate_bytes": list(cfg.gate.pass_rate_bytes), "pass_rate_files": list(cfg.gate.pass_rate_files)}
    rates = pass_rate_table(metrics)
    run_gate("filter-pass-rate", rates, filter_pass_rate(bands, rates))
    shares = language_share_table(metrics)
    run_gate("filter-language-mix", shares, language_mix(cfg.gate.share_bounds(), cfg.supported(), shares))


@flow(name="filter", log_prints=True)
def filter_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    cfg = config_from_params(section(load_params(params_path), "filter"))
    shards = list_shards(IN_DIR)
    with atomic_dir(OUT_DIR) as out, atomic_dir(DECISIONS_DIR) as decisions:
        calls = [(str(s), str(out / s.name), str(decisions / s.name), cfg) for s in shards]
        stats = map_shards(filter_shard_task, calls, "filter")
        metrics = aggregate(stats)
        run_info = {k: metrics.pop(k) for k in RUN_DEPENDENT if k in metrics}
        publish_filter_artifacts(metrics)
        gate_filter(metrics, cfg)  # a failed gate raises here: the new outputs are discarded
    write_metrics("filter", metrics)
    write_timings("filter", {"seconds": elapsed(), **run_info})
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
