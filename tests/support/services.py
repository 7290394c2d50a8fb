"""Real services the cluster tests start as separate processes on 127.0.0.1: a Dask scheduler with
workers, a Ray head. Each is a context manager that stops only the processes it started.

`unavailable(reason)` is how a test reacts to a missing service or toolchain: skip on a developer's
machine, fail under CI (CI=true), where `make test` installs what the tests need."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, NoReturn

import pytest

from flows.server import free_port


class ServiceUnavailable(RuntimeError):
    """The service's binary or package is missing or it did not come up: tests skip with this reason."""


def unavailable(reason: str) -> NoReturn:
    """Skip, saying what is missing; under CI (CI=true) fail instead: there it must have been installed."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1"):
        pytest.fail(f"{reason} (CI=true: `make test` must provide it)", pytrace=False)
    pytest.skip(reason)


def _stop(proc: subprocess.Popen, timeout_s: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)


@contextlib.contextmanager
def dask_cluster(project: Path, logs: Path, n_workers: int = 2, env: dict[str, str] | None = None,
                 preload: tuple[str, ...] = (), memory_limit: str | None = None, nanny: bool = False) -> Iterator[str]:
    """A Dask scheduler and `n_workers` single-threaded workers, each its own process, the workers running in
    `project` with it on PYTHONPATH (the layout infra/README.md prescribes; `env` may override PYTHONPATH).
    `preload`: modules each worker imports as it starts (Prefect's task engine takes seconds to import).
    `memory_limit` (e.g. "1GiB") per worker; `nanny`: each worker under a nanny process, which enforces that
    limit (Dask's `terminate` fraction). Yields the scheduler address."""
    logs.mkdir(parents=True, exist_ok=True)
    scheduler_file = logs / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(project), **(env or {})}
    procs: list[subprocess.Popen] = []
    opened = []

    def start(name: str, args: list[str]) -> None:
        log = open(logs / f"{name}.log", "w")
        opened.append(log)
        procs.append(subprocess.Popen([sys.executable, "-m", *args], cwd=project, env=env,
                                      stdout=log, stderr=subprocess.STDOUT))

    try:
        start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                            "--no-dashboard", "--scheduler-file", str(scheduler_file)])
        _wait_for(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, procs, 60, "dask scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(n_workers):
            start(f"worker-{i}", ["distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
                                  "--nthreads", "1", "--nworkers", "1", "--nanny" if nanny else "--no-nanny",
                                  "--no-dashboard", *(["--memory-limit", memory_limit] if memory_limit else []),
                                  "--host", "127.0.0.1", "--name", f"worker-{i}",
                                  "--local-directory", str(logs / f"worker-{i}-space"),
                                  *[arg for module in preload for arg in ("--preload", module)]])
        from distributed import Client

        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=90)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for log in opened:
            log.close()


@contextlib.contextmanager
def ray_head(project: Path, logs: Path, num_cpus: int = 2,
             env: dict[str, str] | None = None) -> Iterator[tuple[str, Path]]:
    """A local Ray head (`ray start --head --block`) started from `project` with it on PYTHONPATH; yields its
    address and its session's log directory (worker logs name each task they ran: `:task_name:<name>`).
    Ray's own gRPC servers listen on every interface (Ray 2.60 has no bind option); --node-ip-address
    127.0.0.1 keeps the node's advertised address local.

    --block keeps `ray start` in the foreground as the parent of the head's processes, so stopping it
    stops exactly this head (never `ray stop`, which ends every Ray on the machine)."""
    ray_bin = Path(sys.executable).parent / "ray"
    if not ray_bin.exists():
        raise ServiceUnavailable("ray is not installed (pip install -e '.[ray]')")
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(project), "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
    temp_dir = Path("/tmp") / f"ray-{port}"  # Ray's socket paths must stay short (AF_UNIX limit)
    cmd = [str(ray_bin), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
           "--num-cpus", str(num_cpus), "--include-dashboard", "false", "--disable-usage-stats",
           "--temp-dir", str(temp_dir)]
    log = open(logs / "ray-head.log", "w")
    proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        _wait_for(lambda: _ray_up(address, env), [proc], 120, "ray head")
        yield address, temp_dir / "session_latest" / "logs"
    finally:
        _stop(proc, timeout_s=30)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _ray_up(address: str, env: dict[str, str]) -> bool:
    time.sleep(1.0)
    probe = subprocess.run([str(Path(sys.executable).parent / "ray"), "status", "--address", address],
                           env=env, capture_output=True, text=True, timeout=60)
    return probe.returncode == 0


def _wait_for(ready, procs: list[subprocess.Popen], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            raise ServiceUnavailable(f"{what} did not start")
        time.sleep(0.1)
