"""The data stages on a real Dask cluster (a scheduler and two single-threaded workers, each its own
process, as `dask scheduler` / `dask worker` would run them on other machines) give byte-identical
outputs to the local runner, with the dedup LSH index in a real Redis filled by the workers.

Layout under test (infra/README.md): the workers run in the project directory, which the flow shares
with them (here: the same machine; on a cluster: a shared filesystem mounted at the same path), with
the project on PYTHONPATH. Shards are named by project-relative paths, as DVC names outputs.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest

from tests.distributed.conftest import (DATA_STAGES, data_params, dedup_metrics_without_storage, dedup_project,
                                        set_runtime)
from tests.support.project import dvc, lock_hashes, make_project
from tests.support.services import ServiceUnavailable, dask_cluster

ROOT = Path(__file__).resolve().parents[2]

# every fan-out of the data stages (map_shards) must have run on the cluster's workers; tokenizer and
# pack train / pack in the flow's own process
CLUSTER_TASKS = {"crawl_source_task", "filter_shard_task", "order_shard_task", "signatures_task", "index_task",
                 "apply_task", "quality_shard_task"}


def _cluster_counts(address: str) -> tuple[dict[str, int], set[str]]:
    """Tasks executed per worker, and the names of the task functions the scheduler has seen."""
    from distributed import Client

    with Client(address, timeout=60, set_as_default=False) as client:
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
        prefixes = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    return executed, set(prefixes)


# imported by each worker as it starts, while the local reference run goes on
PRELOAD = ("prefect.task_engine", "flows._runtime")


def _run_on_cluster(address: str, project: Path, target: str) -> tuple[dict[str, int], set[str], float]:
    set_runtime(project, task_runner="dask", dask_address=address)
    started = time.monotonic()
    dvc(project, "repro", target)
    wall = time.monotonic() - started
    executed, prefixes = _cluster_counts(address)
    return executed, prefixes, wall


@contextlib.contextmanager
def _cluster(project: Path, logs: Path):
    try:
        with dask_cluster(project, logs, n_workers=2, preload=PRELOAD) as address:
            yield address
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.e2e
def test_dedup_on_dask_cluster_with_redis_matches_local_memory_index(tmp_path: Path, redis: dict,
                                                                    local_dedup: Path) -> None:
    """Signatures per shard on the workers, the LSH index in Redis filled by the workers: same clusters,
    same bytes as the local runner with the in-memory index."""
    local = local_dedup
    cluster = dedup_project(tmp_path / "cluster", "dask", {"type": "redis", "host": redis["host"],
                                                          "port": redis["port"], "basename": "dedup_only"})
    with _cluster(cluster, tmp_path / "dask-logs") as address:
        executed, prefixes, wall = _run_on_cluster(address, cluster, "dedup")
    print(f"dedup on the Dask cluster: {wall:.1f}s; tasks per worker {executed}")

    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
    assert {"signatures_task", "index_task", "apply_task"} <= prefixes, prefixes
    assert redis["client"].exists(b"dedup_only_keys")
    dedup = json.loads((cluster / "metrics/dedup.json").read_text())
    assert dedup["lsh"]["storage"] == "redis" and dedup["repos_dropped"] >= 8   # each family's near copy
    assert dedup_metrics_without_storage(cluster) == dedup_metrics_without_storage(local)
    hashes_local, hashes_cluster = lock_hashes(local)["dedup"], lock_hashes(cluster)["dedup"]
    hashes_local.pop("metrics/dedup.json")
    hashes_cluster.pop("metrics/dedup.json")
    assert hashes_cluster == hashes_local


@pytest.mark.soak
def test_data_stages_on_dask_cluster_match_local_run(tmp_path: Path, git_specs: list[dict], redis: dict,
                                                      prefect_api_url: str) -> None:
    """crawl -> pack (~4 min here: soak) on the cluster with the Redis index, against the local thread runner."""
    local = make_project(tmp_path / "local", data_params(git_specs, tmp_path / "cache-local", "thread"))
    params = data_params(git_specs, tmp_path / "cache-cluster", "dask")
    params["dedup"] = {"storage": {"type": "redis", "host": redis["host"], "port": redis["port"],
                                   "basename": "cluster_test"}}
    cluster = make_project(tmp_path / "cluster", params)
    with _cluster(cluster, tmp_path / "dask-logs") as address:
        started = time.monotonic()
        dvc(local, "repro", "pack")
        print(f"data stages with the local thread runner: {time.monotonic() - started:.1f}s")
        executed, prefixes, wall = _run_on_cluster(address, cluster, "pack")
    print(f"data stages on the Dask cluster: {wall:.1f}s; tasks per worker {executed}")

    # the shards really ran on the cluster, on both workers, through every fan-out of the data stages
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
    assert CLUSTER_TASKS <= prefixes, prefixes
    # the workers filled the shared Redis LSH index (reset at the start of the dedup stage)
    assert redis["client"].exists(b"cluster_test_keys")

    # byte-identical outputs: every out of every data stage, except the dedup metrics that name the backend
    hashes_local, hashes_cluster = lock_hashes(local), lock_hashes(cluster)
    assert set(hashes_cluster) == set(DATA_STAGES)
    for stage in DATA_STAGES:
        expected = {k: v for k, v in hashes_local[stage].items() if k != "metrics/dedup.json"}
        got = {k: v for k, v in hashes_cluster[stage].items() if k != "metrics/dedup.json"}
        assert got == expected, stage
    assert dedup_metrics_without_storage(cluster) == dedup_metrics_without_storage(local)
    assert (cluster / "data/dedup_clusters.parquet").read_bytes() == (local / "data/dedup_clusters.parquet").read_bytes()


def test_workers_outside_the_project_are_refused(tmp_path: Path) -> None:
    """A cluster whose workers run elsewhere would read and write other files: the runner refuses it up front."""
    from flows._runtime import ClusterMismatch, task_runner_from_params

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        with dask_cluster(elsewhere, tmp_path / "logs", n_workers=1, env={"PYTHONPATH": str(ROOT)}) as address:
            with pytest.raises(ClusterMismatch, match="1 of 1 workers do not run in this project"):
                task_runner_from_params({"runtime": {"task_runner": "dask", "dask_address": address}})
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))


def test_placement_check_names_each_wrong_worker() -> None:
    from flows._runtime import ClusterMismatch, check_placements, worker_placement

    here = worker_placement()
    assert check_placements({"a": here, "b": dict(here)}, "cluster") == 2
    with pytest.raises(ClusterMismatch, match=r"1 of 2 workers(.|\n)*b: cwd .*, code /old/checkout"):
        check_placements({"a": here, "b": {**here, "code": "/old/checkout"}}, "cluster")
    with pytest.raises(ClusterMismatch, match="no workers"):
        check_placements({}, "cluster")
