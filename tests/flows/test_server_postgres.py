"""The project's Prefect server on PostgreSQL (CODER_PIPELINE_PREFECT_DB=postgres): the project creates and
starts a cluster of the distribution's PostgreSQL in its Prefect home, flow and task runs land in it, and
`stop` stops both. (Nights over thousands of partitions mean thousands of task runs; SQLite serialises
them.)"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import server
from tests.support.services import unavailable

FLOW = """
from prefect import flow, task

@task
def part(i):
    return i * i

@flow(name="pg-smoke")
def smoke():
    return sum(part.map(range(20)).result())

print(smoke())
"""


def test_server_on_postgres_records_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        server._pg_bin("initdb")
    except RuntimeError as exc:
        unavailable(str(exc))
    if os.geteuid() == 0 and not shutil.which("runuser"):
        unavailable("runuser not found: PostgreSQL cannot run as root")
    pytest.importorskip("asyncpg", reason="asyncpg not installed (a project dependency: make install)")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="pg-home-", dir="/tmp"))  # pytest's tmp dirs are 0700: postgres cannot enter
    base.chmod(0o755)
    home, port = base / "home", server.free_port()
    monkeypatch.setenv(server.DB_ENV, "postgres")
    url = server.start(port=port, home=home, timeout_s=240)
    try:
        env = dict(os.environ, PREFECT_API_URL=url)
        proc = subprocess.run([sys.executable, "-c", FLOW], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.strip().splitlines()[-1] == str(sum(i * i for i in range(20)))
        deadline, rows = time.monotonic() + 60, 0
        while rows < 20 and time.monotonic() < deadline:  # task runs arrive as events, written a moment later
            count = subprocess.run([server._pg_bin("psql"), "-h", "127.0.0.1", "-p",
                                    str(port + server.PG_PORT_OFFSET), "-U", "prefect", "-d", "prefect", "-tAc",
                                    "SELECT count(*) FROM task_run"], capture_output=True, text=True, check=True)
            rows = int(count.stdout.strip())
            time.sleep(1)
        assert rows >= 20
        log = (home / f"server-{port}.log").read_text(errors="replace")
        assert "Error" not in log and "Traceback" not in log
    finally:
        server.stop(port=port, home=home, wait_s=30)
    status = subprocess.run([server._pg_bin("pg_ctl"), "-D", str(home / "pg" / "data"), "status"],
                            capture_output=True, text=True)
    assert status.returncode != 0  # stopped with the server
    shutil.rmtree(base, ignore_errors=True)
