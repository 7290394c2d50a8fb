"""The data stages on a real Dask cluster (a scheduler and two single-threaded workers, each its own
process, as `dask scheduler` / `dask worker` would run them on other machines) give byte-identical
outputs to the local runner: every partition job (the dedup shuffle's included) runs on the workers,
which read and write the shared project directory and partition cache.

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

from tests.distributed.conftest import DATA_STAGES, data_params, dedup_project, jobs_run, set_runtime
from tests.support.project import dvc, lock_hashes, make_project
from tests.support.services import ServiceUnavailable, dask_cluster

ROOT = Path(__file__).resolve().parents[2]

# every partition job of the data stages runs in the one Prefect task `partition` (named stage/partition
# in the UI): on the cluster, all of them ran on its workers; the tokenizer trains in the flow's process
PARTITION_STAGES = ["crawl", "filter", "redact", "order", "dedup", "quality", "pack"]


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
def test_dedup_on_dask_cluster_matches_local_run(tmp_path: Path, local_dedup: Path) -> None:
    """Signatures, the candidates shuffle, verification, components and apply on the workers: same
    clusters, same bytes as the local thread runner."""
    local = local_dedup
    cluster = dedup_project(tmp_path / "cluster", "dask")
    with _cluster(cluster, tmp_path / "dask-logs") as address:
        executed, prefixes, wall = _run_on_cluster(address, cluster, "dedup")
    print(f"dedup on the Dask cluster: {wall:.1f}s; tasks per worker {executed}")

    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
    assert "partition" in prefixes, prefixes
    assert sum(executed.values()) == jobs_run(cluster, "dedup") >= 4 + 2 + 4 + 1 + 4
    dedup = json.loads((cluster / "metrics/dedup.json").read_text())
    assert dedup["repos_dropped"] >= 8   # each family's near copy
    assert dedup == json.loads((local / "metrics/dedup.json").read_text())
    assert lock_hashes(cluster)["dedup"] == lock_hashes(local)["dedup"]


@pytest.mark.soak
def test_data_stages_on_dask_cluster_match_local_run(tmp_path: Path, git_specs: list[dict],
                                                      prefect_api_url: str) -> None:
    """crawl -> pack (~4 min here: soak) on the cluster, against the local thread runner."""
    local = make_project(tmp_path / "local", data_params(git_specs, tmp_path / "cache-local", "thread"))
    cluster = make_project(tmp_path / "cluster", data_params(git_specs, tmp_path / "cache-cluster", "dask"))
    with _cluster(cluster, tmp_path / "dask-logs") as address:
        started = time.monotonic()
        dvc(local, "repro", "pack")
        print(f"data stages with the local thread runner: {time.monotonic() - started:.1f}s")
        executed, prefixes, wall = _run_on_cluster(address, cluster, "pack")
    print(f"data stages on the Dask cluster: {wall:.1f}s; tasks per worker {executed}")

    # the partition jobs really ran on the cluster, on both workers, every one of every stage
    assert len(executed) == 2 and all(n > 0 for n in executed.values()), executed
    assert "partition" in prefixes, prefixes
    assert sum(executed.values()) == sum(jobs_run(cluster, s) for s in PARTITION_STAGES)

    # byte-identical outputs: every out of every data stage
    hashes_local, hashes_cluster = lock_hashes(local), lock_hashes(cluster)
    assert set(hashes_cluster) == set(DATA_STAGES)
    for stage in DATA_STAGES:
        assert hashes_cluster[stage] == hashes_local[stage], stage
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
