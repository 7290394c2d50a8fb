"""Secrets stay out of every record: a GitHub token planted in the environment and `user:password@` in a
registry URL and a git URL never appear in the logs of a `dvc repro` of crawl with failing sources, in
metrics/*.json, data/raw/quarantine.parquet, reports/, or the Prefect artifacts. Services bind to 127.0.0.1.
(The evaluate sandbox has no network: tests/evaluate/test_evaluate_sandbox.py.)"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from robustness_support import tiny_params

from tests.support.project import make_project, project_env

TOKEN = "ghp_plantedSECRET123"
PIP_PASSWORD = "pipPASSW0RDsecret"
GIT_PASSWORD = "gitPASSW0RDsecret"
SECRETS = (TOKEN, PIP_PASSWORD, GIT_PASSWORD)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens after the socket closes: connection refused


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.e2e
def test_planted_secrets_never_recorded(tmp_path: Path, prefect_api_url: str) -> None:
    port = _closed_port()
    local = tmp_path / "localrepo"
    (local / "pkg").mkdir(parents=True)
    (local / "pkg" / "mod.py").write_text("def add(a, b):\n    return a + b\n")
    specs = [
        {"type": "local", "name": "okrepo", "path": str(local)},
        {"type": "pypi", "name": "leakypkg", "version": "1.0"},
        {"type": "git", "name": "leakygit", "url": f"http://bob:{GIT_PASSWORD}@127.0.0.1:{port}/r.git"},
    ]
    params = tiny_params(specs, tmp_path / "cache")
    params["crawl"].update(retries=1, backoff_base_s=0.01, backoff_max_s=0.05, timeout_s=2.0, max_fetch_s=10.0)
    p = make_project(tmp_path / "p", params, stages=["crawl"])
    env = project_env(p)
    env.update(GITHUB_TOKEN=TOKEN, PIP_INDEX_URL=f"http://alice:{PIP_PASSWORD}@127.0.0.1:{port}/simple",
               NPM_CONFIG_REGISTRY=f"http://carol:{PIP_PASSWORD}@127.0.0.1:{port}/")
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "-v"], cwd=p, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert _leaks(proc.stdout + proc.stderr) == []

    quarantine = pq.read_table(p / "data/raw/quarantine.parquet").to_pylist()
    assert {q["repo"].split("/")[0] for q in quarantine} == {"pypi", "git"}  # both failing sources quarantined
    assert all(q["error"] for q in quarantine)
    assert _leaks(json.dumps(quarantine)) == [], quarantine
    for shard in (p / "data/raw").glob("*.parquet"):
        assert _leaks(json.dumps(pq.read_table(shard).to_pylist(), default=str)) == [], shard.name
    for path in list((p / "metrics").rglob("*")) + list((p / "reports").rglob("*")):
        if path.is_file():
            assert _leaks(path.read_text(errors="replace")) == [], path

    from prefect.client.orchestration import get_client

    async def artifacts() -> list:
        async with get_client() as client:
            return await client.read_artifacts(limit=200)

    import asyncio

    arts = asyncio.run(artifacts())
    crawl_arts = [a for a in arts if (a.key or "").startswith("crawl-")]
    assert crawl_arts, "the crawl published no artifacts"
    for art in arts:
        assert _leaks(json.dumps(art.data, default=str) + str(art.description)) == [], art.key


def _listening(port: int) -> set[str]:
    """Local addresses of the LISTEN sockets on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


def test_prefect_server_binds_loopback_only(prefect_api_url: str) -> None:
    port = int(prefect_api_url.rsplit(":", 1)[1].split("/")[0])
    addrs = _listening(port)
    assert addrs, f"nothing listens on {port}"
    assert addrs <= {"0100007F", "00000000000000000000000001000000"}, addrs  # 127.0.0.1 / ::1 only
