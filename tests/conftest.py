"""Test session setup: one real local Prefect server (SQLite, 127.0.0.1, a free port) for the whole run.

Tests that talk to Prefect (flows, artifacts, `dvc repro` of stages) take the `prefect_api_url` fixture.

It is started in pytest_configure, before any test module imports prefect, because Prefect reads
PREFECT_API_URL once at import time.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_state: dict[str, object] = {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CODER_PIPELINE_TEST_NO_SERVER"):
        return
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DVC_NO_ANALYTICS"] = "1"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    home = Path(tempfile.mkdtemp(prefix="coder-pipeline-prefect-"))
    port = _free_port()
    os.environ["PREFECT_HOME"] = str(home)
    from flows import server

    # started now, waited for only by tests that need it (the prefect_api_url fixture)
    url = server.start(port=port, home=home, wait=False)
    os.environ["PREFECT_API_URL"] = url
    _state.update(home=home, port=port, url=url)


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
