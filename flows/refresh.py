"""Nightly refresh: every DVC stage, in DVC's order, as a retryable Prefect task.

Each stage runs `dvc repro --single-item <stage>`, so DVC still decides what is stale and writes
dvc.lock; Prefect adds retries, a UI to watch and re-run, and a summary artifact. Stages named in
`refresh.gpu_stages` can be routed to the gpu work pool's deployment with `run_deployment`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE as NO_CACHE

from flows._runtime import PARENT_TASK_RUN_ENV, markdown_table, publish_markdown, publish_table, run_stage
from flows.dvc_graph import stage_order
from tasks.common.params import load_params

OUTPUT_TAIL = 4000


def read_metrics(root: Path) -> dict[str, Any]:
    """All metrics/*.json flattened to {"stage.key.sub": number}, for a diff across runs."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}", v)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            flat[prefix] = node

    for path in sorted((root / "metrics").glob("*.json")):
        try:
            walk(path.stem, json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return flat


def metrics_diff(before: dict[str, Any], after: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            change = (new - old) if isinstance(old, (int, float)) and isinstance(new, (int, float)) else None
            rows.append({"metric": key, "old": old, "new": new, "change": change})
    return rows[:limit]


@task(name="dvc-repro-stage", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10, task_run_name="{stage}")
def repro_stage(stage: str, root: str, force: bool = False) -> dict[str, Any]:
    """One stage through DVC; a non-zero exit raises so Prefect retries it and shows it failed. The stage's
    own flow run becomes a child of this task run (flows._runtime.run_as_child)."""
    from prefect.runtime import task_run

    logger = get_run_logger()
    cmd = [sys.executable, "-m", "dvc", "repro", "--single-item", stage] + (["--force"] if force else [])
    logger.info("running %s", " ".join(cmd[2:]))
    started = time.monotonic()
    env = dict(os.environ, **{PARENT_TASK_RUN_ENV: str(task_run.id)})
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    output = (proc.stdout + proc.stderr)[-OUTPUT_TAIL:]
    if proc.returncode != 0:
        raise RuntimeError(f"stage {stage} failed with exit code {proc.returncode}:\n{output}")
    skipped = "didn't change, skipping" in output or "is cached - skipping" in output
    logger.info("stage %s %s in %.1fs", stage, "up to date" if skipped else "ran", seconds)
    jobs = {} if skipped else stage_jobs(Path(root), stage)
    return {"stage": stage, "status": "up to date" if skipped else "ran", "seconds": round(seconds, 1), **jobs}


def stage_jobs(root: Path, stage: str) -> dict[str, int]:
    """Partition jobs the stage reused and recomputed (its reports/timings/<stage>.json, all steps summed)."""
    try:
        timings = json.loads((root / "reports" / "timings" / f"{stage}.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    out = {"partitions_reused": 0, "partitions_computed": 0}
    for key, value in timings.items():
        for kind in ("reused", "computed"):
            if (key == kind or key.endswith(f"_{kind}")) and isinstance(value, int):
                out[f"partitions_{kind}"] += value
    return out if any(out.values()) else {}


def route_to_gpu(stage: str, deployment: str, root: str) -> dict[str, Any]:
    """Run a stage on the gpu work pool through its deployment and wait for it."""
    from prefect.deployments import run_deployment

    run = run_deployment(name=deployment, parameters={"stages": [stage], "root": root}, timeout=None)
    state = run.state
    if state is None or not state.is_completed():
        raise RuntimeError(f"stage {stage} on deployment {deployment} ended {state.name if state else 'unknown'}")
    return {"stage": stage, "status": f"ran on {deployment}", "seconds": None}


@flow(name="refresh", log_prints=True)
def refresh(root: str = ".", stages: list[str] | None = None, force: list[str] | None = None,
            retries: int | None = None, gpu_deployment: str | None = None) -> list[dict[str, Any]]:
    """Reproduce the pipeline stage by stage in DVC's order (optionally a subset, still in that order)."""
    root_path = Path(root).resolve()
    params = load_params(root_path / "params.yaml")
    cfg = params.get("refresh") or {}
    retries = cfg.get("retries", 2) if retries is None else retries
    force = set(force if force is not None else cfg.get("force", []))
    gpu_stages = set(cfg.get("gpu_stages", []))
    gpu_deployment = gpu_deployment or cfg.get("gpu_deployment")
    order = stage_order(root_path)
    wanted = [s for s in order if stages is None or s in stages]
    print(f"stage order from dvc.yaml: {' -> '.join(order)}")
    before = read_metrics(root_path)
    stage_task = repro_stage.with_options(retries=retries, retry_delay_seconds=cfg.get("retry_delay_s", 10))
    summary = []
    for stage in wanted:
        if stage in gpu_stages and gpu_deployment:
            summary.append(route_to_gpu(stage, gpu_deployment, str(root_path)))
        else:
            summary.append(stage_task(stage, str(root_path), stage in force))
    diff = metrics_diff(before, read_metrics(root_path))
    changes = read_delta(root_path)
    publish_table("refresh-stages", summary, "Stages of this refresh in DVC order: partition jobs reused and recomputed")
    publish_markdown("refresh-summary", "# Refresh\n\n" + markdown_table(summary)
                     + "\n## Sources since the last crawl\n\n" + delta_text(changes)
                     + "\n## Metrics changed since the previous run\n\n" + markdown_table(diff),
                     "Refresh run: the delta (sources, partitions recomputed and reused) and metrics diff")
    return summary


def read_delta(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / "reports" / "delta" / "crawl.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def delta_text(changes: dict[str, Any] | None) -> str:
    if changes is None:
        return "_(the crawl did not run this time)_\n"
    return (f"{len(changes['added'])} added, {len(changes['changed'])} moved to a new version or commit, "
            f"{len(changes['removed'])} removed" + ("" if changes["previous"] else " (first crawl)") + ".\n\n"
            + markdown_table([{"source": s, "change": "added"} for s in changes["added"][:50]]
                             + [{"source": c["source"], "change": f"{c['from']} -> {c['to']}"}
                                for c in changes["changed"][:50]]
                             + [{"source": s, "change": "removed"} for s in changes["removed"][:50]]))


if __name__ == "__main__":
    raise SystemExit(run_stage(refresh, stages=sys.argv[1:] or None))
