"""A stage on a real Ray cluster (`ray start --head`, its own processes) through prefect-ray's RayTaskRunner
gives byte-identical outputs to the local runner. Ray is an optional extra (`pip install -e '.[ray]'`):
without it the test skips and says so."""
from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.distributed.conftest import dedup_project, jobs_run, set_runtime
from tests.support.project import dvc, lock_hashes
from tests.support.services import ServiceUnavailable, ray_head

pytestmark = pytest.mark.e2e


def _tasks_run(logs: Path) -> Counter:
    """(task name, worker pid) -> runs, from the `:task_name:` markers Ray writes to each worker's stdout log."""
    runs: Counter = Counter()
    for log in logs.glob("worker-*.out"):
        pid = log.stem.rsplit("-", 1)[-1]
        for name in re.findall(r"^:task_name:(\S+)$", log.read_text(errors="replace"), flags=re.M):
            runs[(name, pid)] += 1
    return runs


def test_dedup_on_ray_cluster_matches_local_run(tmp_path: Path, local_dedup: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed: the optional extra, pip install -e '.[ray]'")
    pytest.importorskip("prefect_ray", reason="prefect-ray is not installed: pip install -e '.[ray]'")
    local = local_dedup
    cluster = dedup_project(tmp_path / "ray", "ray")
    try:
        with ray_head(cluster, tmp_path / "ray-logs", num_cpus=2) as (address, logs):
            set_runtime(cluster, task_runner="ray", ray_address=address)
            started = time.monotonic()
            dvc(cluster, "repro", "dedup")
            print(f"dedup on the Ray cluster: {time.monotonic() - started:.1f}s")
            runs = _tasks_run(logs)
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))

    # every partition job ran as a Ray task in the head's worker processes
    per_task = Counter()
    for (name, _pid), n in runs.items():
        per_task[name] += n
    assert per_task["partition"] == jobs_run(cluster, "dedup") >= 4 + 2 + 4 + 1 + 4, runs
    assert lock_hashes(cluster)["dedup"] == lock_hashes(local)["dedup"]
