"""Stage `redact` (beyond the paper; StarCoder, The Stack v2): secrets and personal data in every file
the filter kept are replaced by typed placeholders (<KEY>, <PASSWORD>, <EMAIL>, synthetic private IP
addresses), one partition job each; the findings table holds type and position only. The gate: a rescan
of the redacted text finds nothing."""
from __future__ import annotations

from typing import Any

from prefect import flow

from flows._runtime import (map_partitions, markdown_table, prune_partitions, publish_markdown, publish_table, run_gate,
                            run_stage, timed, write_metrics, write_timings)
from tasks.common.io import atomic_dir
from tasks.common.params import load_params, section
from tasks.redact import Config, aggregate, config_from_params, redact_partition

IN_DIR, OUT_DIR, FINDINGS_DIR = "data/filtered", "data/redacted", "data/redact_findings"


@flow(name="redact", log_prints=True)
def redact_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    raw = section(params, "redact")
    cfg = config_from_params(raw)
    with atomic_dir(OUT_DIR) as out, atomic_dir(FINDINGS_DIR) as findings:
        run = map_partitions("redact", IN_DIR, {"out": out, "findings": findings}, redact_partition, cfg,
                             params=params, salt_params={k: v for k, v in raw.items() if k != "gate"})
        metrics = aggregate(run.summaries, cfg)
        publish_redact_artifacts(metrics)
        gate_redact(metrics, cfg)
    prune_partitions("redact", run, params)
    write_metrics("redact", metrics)
    write_timings("redact", {"seconds": elapsed(), "worker_seconds": sum(s["seconds"] for s in run.summaries),
                             **run.counts()})
    return metrics


def gate_redact(metrics: dict[str, Any], cfg: Config) -> None:
    import pandas as pd
    from expectations.suites import value_between

    table = pd.DataFrame([{"residual_findings": metrics["residual"], "scan_errors": metrics["scan_errors"]}])
    run_gate("redact", table, value_between("residual_findings", 0, cfg.max_residual))


def publish_redact_artifacts(metrics: dict[str, Any]) -> None:
    types = [{"type": t, "findings": n} for t, n in metrics["by_type"].items()]
    detectors = [{"detector": d, "findings": n} for d, n in metrics["by_detector"].items()]
    publish_table("redact-types", types, "Secrets and personal data replaced, by type (values are never recorded)")
    publish_markdown("redact-summary", (
        f"# Redact\n\n{metrics['findings']:,} findings replaced in {metrics['files_redacted']:,} of "
        f"{metrics['files']:,} files; a rescan of the redacted text found {metrics['residual']}. "
        f"{metrics['scan_errors']} files could not be scanned (dropped).\n\n## By detector\n\n"
        + markdown_table(detectors)), "Redact summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(redact_flow))
