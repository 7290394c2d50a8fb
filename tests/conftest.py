"""Test session setup: one real local Prefect server (SQLite, 127.0.0.1, a free port) for the whole run.

Tests that talk to Prefect (flows, artifacts, `dvc repro` of stages) take the `prefect_api_url` fixture.

Every test must end the multiprocessing children it started: at exit Python joins each one that is left,
and an idle process-pool worker never ends, so one leak made pytest hang after its summary until CI's
time ran out. `_no_leftover_processes` ends such leftovers and fails the test that left them.

It is started in pytest_configure, before any test module imports prefect, because Prefect reads
PREFECT_API_URL once at import time.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_state: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CODER_PIPELINE_TEST_NO_SERVER"):
        return
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DVC_NO_ANALYTICS"] = "1"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    home = Path(tempfile.mkdtemp(prefix="coder-pipeline-prefect-"))
    from flows import server

    port = server.free_port()
    os.environ["PREFECT_HOME"] = str(home)

    # started now, waited for only by tests that need it (the prefect_api_url fixture)
    url = server.start(port=port, home=home, wait=False)
    os.environ["PREFECT_API_URL"] = url
    _state.update(home=home, port=port, url=url)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A session-scoped fixture's leftover children would hang the exit too: end them and fail the run."""
    left = multiprocessing.active_children()
    if left:
        print(f"\nmultiprocessing children left at the end of the session, ended: {_end(left)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    if "port" in _state:
        from flows import server

        server.stop(port=int(_state["port"]), home=Path(str(_state["home"])))
        shutil.rmtree(str(_state["home"]), ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_api_url() -> str:
    if "url" not in _state:
        pytest.skip("no Prefect server in this session")
    from flows import server

    return server.wait_healthy(str(_state["url"]), timeout_s=240)


def _end(children: list) -> str:
    """Terminate (then kill) multiprocessing children; their names for the message."""
    names = ", ".join(f"{p.name} (pid {p.pid})" for p in children)
    for p in children:
        p.terminate()
    for p in children:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join(5)
    return names


@pytest.fixture(autouse=True)
def _no_leftover_processes():
    before = set(multiprocessing.active_children())
    yield
    left = [p for p in multiprocessing.active_children() if p not in before]
    if not left:
        return
    names = _end(left)
    pytest.fail(f"the test left multiprocessing children running: {names}; the interpreter's exit would "
                "wait for them (end them, as flows._runtime._stop_children does)", pytrace=False)
