"""What every stage flow shares: entry point, task runner from params, shard fan-out with progress,
Prefect artifacts, metrics, and gates.

Kept here so `flows/<stage>.py` stays a page long and reads like the stage's recipe.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from flows.server import ensure_api_url
from tasks.common.io import atomic_write_json
from tasks.common.params import ParamError, load_params, number

ROOT = Path(__file__).resolve().parents[1]
METRICS_DIR = Path("metrics")
REPORTS_DIR = Path("reports")
log = logging.getLogger("coder_pipeline")


# ---------------------------------------------------------------- entry point
def run_stage(flow_obj: Any, **kwargs: Any) -> int:
    """Run a stage flow as a process: exit code 0 on success, 1 when the flow (or its gate) fails.

    DVC treats a non-zero exit as a failed stage and leaves dvc.lock untouched.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        url = ensure_api_url()
        from prefect.settings import PREFECT_API_URL, temporary_settings

        params = load_params()
        flow_obj = flow_obj.with_options(task_runner=task_runner_from_params(params))
        with temporary_settings(updates={PREFECT_API_URL: url}):
            flow_obj(**kwargs)
    except ParamError as exc:
        print(f"params.yaml: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the flow's state is already recorded as failed in Prefect
        from expectations.gates import GateFailed

        if isinstance(exc, GateFailed):
            print(f"gate failed: {exc}", file=sys.stderr)
        else:
            traceback.print_exc()
        return 1
    return 0


# ---------------------------------------------------------------- task runner
def workers_from_params(params: dict[str, Any]) -> int:
    runtime = params.get("runtime") or {}
    value = runtime.get("workers", "auto")
    if value == "auto":
        return max(1, os.cpu_count() or 1)
    return int(number(params, "runtime.workers", lo=1, integer=True))


def task_runner_from_params(params: dict[str, Any]) -> Any:
    """Local processes sized to the cores by default; an existing Dask cluster when an address is given."""
    runtime = params.get("runtime") or {}
    kind = runtime.get("task_runner", "process")
    address = os.environ.get("CODER_PIPELINE_DASK_ADDRESS") or runtime.get("dask_address")
    if kind == "dask" or address:
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers_from_params(params), "threads_per_worker": 1,
                                              "processes": True})
    if kind == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers_from_params(params))
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers_from_params(params))
    raise ParamError(f"runtime.task_runner: unknown value {kind!r}; expected one of process, thread, dask")


def map_shards(task: Any, calls: Sequence[tuple], desc: str) -> list[Any]:
    """Submit `task(*args)` for every tuple in `calls` to the flow's task runner; results in call order.

    A progress bar shows shards as they finish; the first failure propagates (its shard is named).
    """
    from prefect.futures import as_completed
    from tqdm import tqdm

    futures = [task.submit(*args) for args in calls]
    index = {id(f): i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    started = time.monotonic()
    with tqdm(total=len(futures), desc=desc, unit="shard", file=sys.stderr, mininterval=2.0) as bar:
        for fut in as_completed(futures):
            results[index[id(fut)]] = fut.result()
            bar.update(1)
    log.info("%s: %d shards in %.1fs", desc, len(futures), time.monotonic() - started)
    return results


# ---------------------------------------------------------------- outputs
def write_metrics(stage: str, metrics: dict[str, Any]) -> Path:
    """metrics/<stage>.json: deterministic content only (counts, rates), so dvc.lock stays reproducible."""
    path = METRICS_DIR / f"{stage}.json"
    atomic_write_json(path, metrics)
    return path


def write_timings(stage: str, timings: dict[str, float]) -> Path:
    """Wall times go to reports/timings/, outside DVC's outputs: they differ on every run by nature."""
    path = REPORTS_DIR / "timings" / f"{stage}.json"
    atomic_write_json(path, {k: round(v, 3) for k, v in timings.items()})
    return path


def publish_table(key: str, rows: list[dict[str, Any]], description: str) -> None:
    from prefect.artifacts import create_table_artifact

    create_table_artifact(key=_key(key), table=_jsonable_rows(rows), description=description)


def publish_markdown(key: str, markdown: str, description: str) -> None:
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(key=_key(key), markdown=markdown, description=description)


def publish_link(key: str, path_or_url: str, description: str) -> None:
    from prefect.artifacts import create_link_artifact

    link = path_or_url if "://" in path_or_url else Path(path_or_url).resolve().as_uri()
    create_link_artifact(key=_key(key), link=link, description=description)


def _key(key: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in key.lower()).strip("-")


def _jsonable_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        out.append({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})
    return out


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "_(none)_\n"
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_gate(name: str, df: Any, expectations: list[Any]) -> Any:
    """Validate a small table with Great Expectations, publish the Data Docs link, fail the stage on a miss."""
    from expectations.gates import enforce, run_gate as gx_run_gate

    result = gx_run_gate(name, df, expectations, str(REPORTS_DIR))
    if result.docs_path:
        publish_link(f"{name}-data-docs", result.docs_path, f"Great Expectations Data Docs for gate {name}")
    publish_table(f"{name}-gate", [
        {"expectation": r.get("expectation"), "observed": str(r.get("observed")), "bounds": str(r.get("bounds")),
         "success": r.get("success")} for r in result.results], f"Gate {name}: {'passed' if result.success else 'FAILED'}")
    if not result.success:  # an event the notify-and-pause automation (infra/automations.py) listens for
        from expectations.events import emit_gate_failed

        emit_gate_failed(result, stage=name)
    enforce(result)
    return result


def load_stage_params(path: str | None = None) -> dict[str, Any]:
    return load_params(path)


def timed() -> Callable[[], float]:
    start = time.monotonic()
    return lambda: time.monotonic() - start
