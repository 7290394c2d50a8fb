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
from tasks.common.jobs import JobRun
from tasks.common.io import atomic_write_json
from tasks.common.params import ParamError, load_params, number

ROOT = Path(__file__).resolve().parents[1]
METRICS_DIR = Path("metrics")
REPORTS_DIR = Path("reports")
log = logging.getLogger("coder_pipeline")


# ---------------------------------------------------------------- entry point
def _api_unreachable(exc: BaseException) -> bool:
    """True when `exc` (or its cause chain) is Prefect's client failing to reach its server."""
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.ConnectError, httpx.RemoteProtocolError)) or "Failed to reach API" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _stop_children(grace_s: float = 5.0) -> None:
    """Terminate the failed stage's leftover worker processes; exit would otherwise wait for them forever
    (a process pool whose task engine ended with exit(1) keeps idle workers blocked on its queue)."""
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    deadline = time.monotonic() + grace_s
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            child.kill()


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
            run_as_child(flow_obj, kwargs)
    except ParamError as exc:
        print(f"params.yaml: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the flow's state is already recorded as failed in Prefect
        from expectations.gates import GateFailed

        if isinstance(exc, GateFailed):
            print(f"gate failed: {exc}", file=sys.stderr)
        elif isinstance(exc, ClusterMismatch):
            print(f"cluster: {exc}", file=sys.stderr)
        elif _api_unreachable(exc):
            traceback.print_exc()
            print(f"prefect: the API at {os.environ.get('PREFECT_API_URL', 'PREFECT_API_URL')} stopped answering "
                  "(server down or restarted); this stage wrote no output. Once it is back (`python -m flows.server "
                  "start`), `dvc repro` reruns it.", file=sys.stderr)
        else:
            traceback.print_exc()
        _stop_children()
        return 1
    return 0


PARENT_TASK_RUN_ENV = "CODER_PIPELINE_PARENT_TASK_RUN"


def run_as_child(flow_obj: Any, kwargs: dict[str, Any]) -> Any:
    """Run the stage's flow; under a nightly refresh (its task run id in CODER_PIPELINE_PARENT_TASK_RUN,
    passed through `dvc repro`), as a child run of that task, so the UI shows one parent run with a child
    per stage although each stage is its own process."""
    parent = os.environ.get(PARENT_TASK_RUN_ENV)
    if not parent:
        return flow_obj(**kwargs)
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow

    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(flow_obj, parameters=kwargs, parent_task_run_id=UUID(parent))
    return run_flow(flow_obj, flow_run=flow_run, parameters=kwargs)


# ---------------------------------------------------------------- task runner
def workers_from_params(params: dict[str, Any]) -> int:
    runtime = params.get("runtime") or {}
    value = runtime.get("workers", "auto")
    if value == "auto":
        return max(1, os.cpu_count() or 1)
    return int(number(params, "runtime.workers", lo=1, integer=True))


RUNNERS = ("process", "thread", "dask", "ray")
DASK_ADDRESS_ENV, RAY_ADDRESS_ENV = "CODER_PIPELINE_DASK_ADDRESS", "CODER_PIPELINE_RAY_ADDRESS"


class ClusterMismatch(RuntimeError):
    """The cluster's workers would not run this project's code on this project's files."""


def cluster_addresses(params: dict[str, Any]) -> tuple[str | None, str | None]:
    """(dask, ray) addresses of existing clusters: the environment wins over params.yaml."""
    runtime = params.get("runtime") or {}
    return (os.environ.get(DASK_ADDRESS_ENV) or runtime.get("dask_address") or None,
            os.environ.get(RAY_ADDRESS_ENV) or runtime.get("ray_address") or None)


def task_runner_from_params(params: dict[str, Any], check_workers: bool = True) -> Any:
    """Local processes sized to the cores by default; an existing Dask or Ray cluster when an address is given.

    Shards name their files by paths relative to the project directory (as DVC does), so a cluster's
    workers must run in the same project directory, on a shared filesystem mounted at the same path,
    with the same code importable: `check_workers` asks every worker and refuses a mismatch up front
    rather than letting shards fail (or write elsewhere) half-way through a stage.
    """
    runtime = params.get("runtime") or {}
    kind = runtime.get("task_runner", "process")
    if kind not in RUNNERS:
        raise ParamError(f"runtime.task_runner: unknown value {kind!r}; expected one of {', '.join(RUNNERS)}")
    dask_address, ray_address = cluster_addresses(params)
    if dask_address and ray_address and kind not in ("dask", "ray"):
        raise ParamError("runtime: both a Dask and a Ray address are set; choose one with runtime.task_runner")
    if kind == "dask" or (dask_address and kind != "ray"):
        from prefect_dask import DaskTaskRunner

        if dask_address:
            if check_workers:
                check_dask_workers(dask_address)
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers_from_params(params), "threads_per_worker": 1,
                                              "processes": True})
    if kind == "ray" or ray_address:
        try:
            from prefect_ray import RayTaskRunner
        except ImportError as exc:
            raise ParamError("runtime.task_runner: ray needs the optional extra: pip install -e '.[ray]' "
                             f"({exc})") from exc
        if ray_address:
            if check_workers:
                check_ray_workers(ray_address)
            return RayTaskRunner(address=ray_address)
        return RayTaskRunner(init_kwargs={"num_cpus": workers_from_params(params), "include_dashboard": False})
    if kind == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers_from_params(params))
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=workers_from_params(params))


def worker_placement() -> dict[str, str]:
    """Where a worker runs and which copy of the project's code it imports (run on every worker)."""
    return {"cwd": os.path.realpath(os.getcwd()), "code": str(ROOT)}


def check_placements(placements: dict[str, Any], cluster: str) -> int:
    """Raise ClusterMismatch naming the workers that would not see this project; the worker count otherwise."""
    here = worker_placement()
    if not placements:
        raise ClusterMismatch(f"{cluster} has no workers")
    wrong = {w: p for w, p in placements.items() if p != here}
    if wrong:
        lines = "\n".join(f"  {w}: cwd {p.get('cwd')}, code {p.get('code')}" for w, p in sorted(wrong.items()))
        raise ClusterMismatch(
            f"{cluster}: {len(wrong)} of {len(placements)} workers do not run in this project "
            f"(cwd {here['cwd']}, code {here['code']}):\n{lines}\n"
            "Start the workers in the project directory on the shared filesystem with PYTHONPATH set to it "
            "(infra/README.md, 'Dask cluster').")
    return len(placements)


def check_dask_workers(address: str, timeout_s: float = 30) -> int:
    from distributed import Client

    with Client(address, timeout=timeout_s, set_as_default=False) as client:
        try:
            placements = client.run(worker_placement)
        except ModuleNotFoundError as exc:
            raise ClusterMismatch(f"Dask cluster {address}: workers cannot import the project's code ({exc}); "
                                  "start them with PYTHONPATH=<project dir> (infra/README.md)") from exc
    return check_placements(placements, f"Dask cluster {address}")


def check_ray_workers(address: str) -> int:
    """One probe per CPU slot of the cluster; Ray gives no way to address each worker process."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, namespace="prefect", log_to_driver=False)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
    probe = ray.remote(num_cpus=1)(worker_placement)
    try:
        found = ray.get([probe.remote() for _ in range(slots)])
    except Exception as exc:  # a worker that cannot import flows._runtime
        raise ClusterMismatch(f"Ray cluster {address}: workers cannot run the project's code ({exc})") from exc
    return check_placements({f"probe-{i}": p for i, p in enumerate(found)}, f"Ray cluster {address}")


def map_shards(task: Any, calls: Sequence[tuple], desc: str) -> list[Any]:
    """Submit `task(*args)` for every tuple in `calls` to the flow's task runner; results in call order.

    A progress bar shows shards as they finish; the first failure propagates (its shard is named).
    Futures report through their done-callbacks into a queue; no SIGALRM-based Prefect timeout is used
    (one firing inside `result()` would cancel the flow), and every few idle seconds the futures are
    checked for a worker that died without settling its future (`_raise_if_worker_died`).
    """
    import queue

    from tqdm import tqdm

    futures = [task.submit(*args) for args in calls]
    index = {id(f): i for i, f in enumerate(futures)}
    finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for fut in futures:
        fut.add_done_callback(finished.put)
    results: list[Any] = [None] * len(futures)
    started = time.monotonic()
    pending = set(range(len(futures)))
    with tqdm(total=len(futures), desc=desc, unit="job", file=sys.stderr, mininterval=2.0) as bar:
        while pending:
            try:
                i = index[id(finished.get(timeout=STALL_CHECK_S))]
            except queue.Empty:
                for j in sorted(pending):
                    _raise_if_worker_died(futures[j], f"{desc}: shard {j}")
                continue
            if i in pending:
                results[i] = futures[i].result()
                pending.discard(i)
                bar.update(1)
    log.info("%s: %d shards in %.1fs", desc, len(futures), time.monotonic() - started)
    return results


STALL_CHECK_S = 5.0


# ---------------------------------------------------------------- partition jobs
def partition_settings(params: dict[str, Any]) -> tuple[int, int]:
    """(target bytes per partition, minimum partitions) from runtime.partition_mb / runtime.min_partitions."""
    mb = number(params, "runtime.partition_mb", lo=0, lo_open=True, default=16)
    least = number(params, "runtime.min_partitions", lo=1, hi=100_000, integer=True, default=4)
    return max(1, int(mb * (1 << 20))), int(least)


def partition_cache(params: dict[str, Any]) -> str:
    """Where committed partition jobs live (runtime.partition_cache; a shared filesystem on a cluster)."""
    from tasks.common.jobs import cache_root

    value = (params.get("runtime") or {}).get("partition_cache")
    if value is not None and not isinstance(value, str):
        raise ParamError(f"runtime.partition_cache: expected a path string, got {value!r}")
    return str(cache_root(value))


_PARTITION_TASK: Any = None


def _partition_task() -> Any:
    """The one Prefect task every partition job runs in (named stage/partition in the UI)."""
    global _PARTITION_TASK
    if _PARTITION_TASK is None:
        from prefect import task
        from prefect.cache_policies import NONE as NO_CACHE

        from tasks.common.jobs import run_job

        def partition(stage: str, part: str, job: Any, fn: Callable[..., dict[str, Any]], args: tuple) -> dict[str, Any]:
            return run_job(job, fn, *args)

        _PARTITION_TASK = task(partition, name="partition", cache_policy=NO_CACHE, task_run_name="{stage}/{part}")
    return _PARTITION_TASK


def map_jobs(jobs: Sequence[Any], fn: Callable[..., dict[str, Any]], *args: Any, desc: str,
             per_job: Sequence[tuple] | None = None) -> JobRun:
    """Run partition jobs (tasks.common.jobs.Job) on the flow's task runner; committed ones are reused.

    Each job runs `fn(paths, outputs, *per_job[i], *args)`. A job whose key is known without reading its
    inputs (their digests are remembered) and already committed is resolved here, in the flow process:
    its outputs linked, no task run, no worker. A night that changed a few partitions of thousands so
    starts workers and task runs for those few only (the counts are in the stage's timings and artifact).
    """
    from tasks.common.jobs import is_committed, known_key, run_job

    calls = [(j.stage, j.name, j, fn, (tuple(per_job[i]) if per_job else ()) + args) for i, j in enumerate(jobs)]
    results: list[Any] = [None] * len(calls)
    todo = []
    for i, call in enumerate(calls):
        job = call[2]
        key = known_key(job)
        if key is not None and is_committed(job, key):
            results[i] = run_job(job, fn, *call[4], key=key)
        else:
            todo.append(i)
    if todo:
        for i, result in zip(todo, map_shards(_partition_task(), [calls[i] for i in todo], desc)):
            results[i] = result
    run = JobRun.of(results)
    if jobs:
        log.info("%s: %d jobs, %d reused from committed partitions (%d resolved without a task), %d computed",
                 desc, len(jobs), run.reused, len(jobs) - len(todo), run.computed)
    return run


def map_partitions(stage: str, in_dir: str | Path, outputs: dict[str, str | Path | None],
                   fn: Callable[..., dict[str, Any]], *args: Any, params: dict[str, Any], salt_params: Any,
                   side_dirs: Sequence[str | Path] = (), step: str | None = None, desc: str | None = None) -> JobRun:
    """One job per partition of `in_dir`: fn(paths, outputs, *args) writes the same-named file in each
    output dir (an output dir of None: the file stays in the partition cache). `paths` = the partition,
    then the same-named file of each side dir that has one. Jobs are keyed by their input bytes, the
    stage's code (dvc.yaml deps) and `salt_params` (what shapes the output); `step` names a stage's
    second kind of job."""
    from tasks.common.io import list_shards
    from tasks.common.jobs import Job, stage_salt

    cache = partition_cache(params)
    salt = stage_salt(stage, salt_params)
    name = f"{stage}-{step}" if step else stage
    jobs = []
    for part in list_shards(in_dir):
        side = tuple(str(Path(d) / part.name) for d in side_dirs if (Path(d) / part.name).is_file())
        jobs.append(Job(stage=name, name=part.stem, salt=salt, inputs=(str(part),) + side,
                        outputs={k: None if d is None else str(Path(d) / part.name) for k, d in outputs.items()},
                        cache=cache))
    return map_jobs(jobs, fn, *args, desc=desc or name)


def prune_partitions(stage: str, run: JobRun, params: dict[str, Any]) -> int:
    """After a stage succeeded: drop the committed jobs of `stage` (a job namespace) this run did not use."""
    from tasks.common.jobs import prune

    return prune(stage, run.keys, partition_cache(params))


class PrefectApiLost(RuntimeError):
    """A shard's worker could not reach the Prefect API (server down or restarted)."""


def _raise_if_worker_died(fut: Any, what: str) -> None:
    """Raise the error of a shard whose worker process ended without its future ever settling.

    Prefect 3.8's process pool chains futures with `except Exception`: when its task engine ends a worker's
    task with `exit(1)` (it does when the API is unreachable), the SystemExit is never forwarded and
    `as_completed` would wait forever. The executor's own future, at the end of the chain, has it.
    """
    import concurrent.futures as cf

    inner = fut
    for _ in range(6):
        inner = (getattr(inner, "_wrapped_future", None) or getattr(inner, "wrapped_future", None)
                 or getattr(inner, "_process_future", None))
        if inner is None:
            return
        if type(inner) is cf.Future and inner.done() and not inner.cancelled():
            exc = inner.exception()
            if exc is None:
                return
            from flows.server import is_healthy

            url = os.environ.get("PREFECT_API_URL", "")
            if url and not is_healthy(url):
                raise PrefectApiLost(f"{what}: its worker exited ({exc!r}): Failed to reach API at {url}") from exc
            raise RuntimeError(f"{what}: its worker exited ({exc!r})") from exc


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


def run_gate(name: str, df: Any, expectations: list[Any], mode: str = "enforce", notes: Sequence[str] = ()) -> Any:
    """Validate a small table with Great Expectations, publish the Data Docs link and the results, record them in
    reports/gates/<name>.json. A miss emits the gate event; it fails the stage in enforce mode, and in warn mode
    (`<stage>.gate.mode`, a first run on a new corpus) it is only reported, so the stage completes."""
    from expectations.gates import enforce, run_gate as gx_run_gate

    result = gx_run_gate(name, df, expectations, str(REPORTS_DIR), mode=mode, notes=notes)
    if result.docs_path:
        publish_link(f"{name}-data-docs", result.docs_path, f"Great Expectations Data Docs for gate {name}")
    rows = [{"expectation": r.get("expectation"), "observed": str(r.get("observed")), "bounds": str(r.get("bounds")),
             "success": r.get("success")} for r in result.results]
    rows += [{"expectation": "note", "observed": note, "bounds": "", "success": None} for note in result.notes]
    publish_table(f"{name}-gate", rows, f"Gate {name}: {result.outcome()}")
    record_gate(result)
    if not result.success:  # an event the notify-and-pause automation (infra/automations.py) listens for
        from expectations.events import emit_gate_failed

        emit_gate_failed(result, stage=name)
        if mode == "warn":
            log.warning("%s", result.summary())
    return enforce(result)


def run_drift_gate(stage: str, metrics: dict[str, Any], policy: Any) -> Any:
    """The gate on drift: `stage`'s gate values against the last accepted run (expectations/accepted/<stage>.json),
    each within its move allowed by `<stage>.gate.drift`. None when no drift is configured; without a snapshot
    the result passes and says it checked nothing (in the log, the artifact and reports/gates/)."""
    from expectations.baseline import drift_check

    if not policy.drift:
        return None
    check = drift_check(stage, metrics, policy)
    name = f"{stage}-drift"
    if check.rows:
        from expectations.suites import drift

        table = check.table()
        return run_gate(name, table, drift(table), mode=policy.mode, notes=check.notes)
    from expectations.gates import GateResult

    result = GateResult(success=True, name=name, mode=policy.mode, notes=check.notes)
    log.warning("%s", result.summary())
    publish_markdown(f"{name}-gate", f"# Gate {name}: not checked\n\n" + "\n".join(f"- {n}" for n in check.notes),
                     f"Gate {name}: not checked")
    record_gate(result)
    return result


def record_gate(result: Any) -> Path:
    """reports/gates/<name>.json: the last result of each gate (warn-mode misses included), outside DVC's outputs."""
    path = REPORTS_DIR / "gates" / f"{result.name}.json"
    atomic_write_json(path, result.to_dict())
    return path


def load_stage_params(path: str | None = None) -> dict[str, Any]:
    return load_params(path)


def timed() -> Callable[[], float]:
    start = time.monotonic()
    return lambda: time.monotonic() - start
