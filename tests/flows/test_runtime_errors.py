"""run_stage tells a lost Prefect server apart from a stage's own failure (robustness: server restart mid-run)."""
from __future__ import annotations

import time

import httpx
import pytest

from flows._runtime import _api_unreachable, _stop_children, run_stage


def _lost_server() -> RuntimeError:
    try:
        try:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        except httpx.ConnectError as inner:
            raise RuntimeError("Failed to reach API at http://127.0.0.1:1/api/") from inner
    except RuntimeError as exc:
        return exc


def test_api_unreachable_follows_the_cause_chain() -> None:
    assert _api_unreachable(_lost_server())
    wrapped = ValueError("task failed")
    wrapped.__cause__ = _lost_server()
    assert _api_unreachable(wrapped)
    assert not _api_unreachable(ValueError("bad shard"))


def test_run_stage_names_the_lost_server(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")

    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    workers = []

    class Lost:
        def with_options(self, **_: object) -> "Lost":
            return self

        def __call__(self) -> None:
            workers.append(ctx.Process(target=time.sleep, args=(120,)))  # an idle pool worker left behind
            workers[-1].start()
            raise _lost_server()

    monkeypatch.setattr("flows._runtime.task_runner_from_params", lambda params: None)
    assert run_stage(Lost()) == 1
    err = capsys.readouterr().err
    assert "stopped answering" in err and "dvc repro" in err and "127.0.0.1:9" in err
    assert not workers[0].is_alive()  # else the stage's exit would wait for it


# module level: the process pool pickles the task by reference
from prefect import task  # noqa: E402


@task
def _shard_that_exits(i: int) -> int:
    if i == 1:
        raise SystemExit(1)  # what Prefect's own task engine does in a worker that lost the API
    return i


@pytest.mark.timeout(180)
# the bug itself: Prefect's on_process_done re-raises the SystemExit in the executor's thread (never forwarded)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_map_shards_does_not_hang_when_a_worker_exits(prefect_api_url: str) -> None:
    """Prefect 3.8's process pool never settles the future of a worker that ended with SystemExit (plain
    `as_completed` waits forever); map_shards names the shard and fails instead."""
    from prefect import flow
    from prefect.task_runners import ProcessPoolTaskRunner

    from flows._runtime import map_shards

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def probe() -> list[int]:
        return map_shards(_shard_that_exits, [(0,), (1,), (2,)], "probe")

    try:
        with pytest.raises(RuntimeError, match=r"probe: shard 1: its worker exited \(SystemExit\(1\)\)"):
            probe()
    finally:
        # the broken pool's idle workers outlive the flow (its manager thread died with the SystemExit);
        # run_stage ends them for a stage process, here the test does, or pytest's exit would wait forever
        _stop_children()


@task
def _slow_shard(i: int) -> int:
    time.sleep(0.3 * i)
    return i * 10


def test_map_shards_waits_without_alarms(prefect_api_url: str, monkeypatch) -> None:
    """Idle waits longer than the stall check: results in call order, and no SIGALRM timer is ever armed
    (Prefect's as_completed(timeout=) arms one over the caller's loop, and it fired inside result())."""
    import signal

    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    import flows._runtime as rt

    monkeypatch.setattr(rt, "STALL_CHECK_S", 0.1)
    armed: list[tuple] = []
    real = signal.setitimer
    monkeypatch.setattr(signal, "setitimer", lambda *a: armed.append(a) or real(*a))
    monkeypatch.setattr(signal, "alarm", lambda *a: armed.append(a) or 0)

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def probe() -> list[int]:
        return rt.map_shards(_slow_shard, [(3,), (0,), (2,), (1,)], "probe")

    assert probe() == [30, 0, 20, 10]
    assert armed == []
