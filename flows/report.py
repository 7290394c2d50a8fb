"""Stage `report`: one static page (reports/index.html) with the whole run: funnel, language mix,
drop reasons, dedup clusters, loss curve, eval table, links to Data Docs and the Prefect runs; plus the
CSV tables behind `dvc plots show`."""
from __future__ import annotations

from typing import Any

from prefect import flow

from flows._runtime import publish_link, publish_markdown, run_stage, timed, write_metrics, write_timings
from tasks.common.params import load_params
from tasks.report import aggregate, build_report, config_from_params

OUT = "reports/index.html"


@flow(name="report", log_prints=True)
def report_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    cfg = config_from_params(load_params(params_path).get("report"))
    result = build_report(".", OUT, cfg)
    metrics = aggregate(result)
    write_metrics("report", metrics)
    write_timings("report", {"seconds": elapsed()})
    publish_link("run-report", OUT, "The run report: funnel, language mix, drop reasons, dedup, loss, eval")
    missing = [k for k, v in result.get("sections", {}).items() if v != "ok"]
    publish_markdown("report-summary", f"# Report\n\nWritten to `{OUT}`. Sections not complete: {missing or 'none'}.\n"
                     + "".join(f"- problem: {p}\n" for p in result.get("problems", [])), "Report summary")
    return metrics


if __name__ == "__main__":
    raise SystemExit(run_stage(report_flow))
