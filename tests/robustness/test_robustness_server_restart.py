"""The Prefect server restarted in the middle of a run: stages keep going through Prefect's client retries, or,
when an outage outlasts them, fail with a clear error and leave nothing half-written; `dvc repro` afterwards
completes with outputs byte-identical to an undisturbed project's.

The server is the project's own (`flows.server`, SQLite), started for this test on a free port; the restart hits
while `filter` builds its output (its `.building-` directory is seen), after which the server comes back on the
same port and database.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from robustness_support import lock_stages, partial_leftovers, tiny_params

from flows import server
from tests.support.corpus import make_git_corpus
from tests.support.project import dvc, lock_hashes, make_project, project_env
from tests.support.services import free_port

pytestmark = pytest.mark.soak
STAGES = ["crawl", "filter", "redact", "order"]


def _flow_run_states(url: str) -> dict[str, list[str]]:
    """flow name -> state names of its runs, read from the server's API."""
    code = ("import asyncio, json\nfrom prefect.client.orchestration import get_client\n"
            "async def main():\n    async with get_client() as c:\n        runs = await c.read_flow_runs()\n"
            "        flows = {f.id: f.name for f in await c.read_flows()}\n"
            "        out = {}\n        for r in runs:\n            out.setdefault(flows[r.flow_id], []).append(r.state_name)\n"
            "        print(json.dumps(out))\nasyncio.run(main())\n")
    env = dict(os.environ, PREFECT_API_URL=url)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str) -> tuple[dict, dict]:
    """Params of a tiny project and the dvc.lock hashes of its undisturbed run."""
    base = tmp_path_factory.mktemp("restart-ref")
    params = tiny_params(make_git_corpus(base / "repos"), base / "cache")
    params["runtime"]["task_runner"] = "process"  # the process pool's behaviour when the API goes is under test
    ref = make_project(base / "ref", params, stages=STAGES)
    dvc(ref, "repro")
    return params, lock_hashes(ref)


@pytest.fixture
def private_server(tmp_path: Path):
    """A server of this test only (home, port), stopped at the end whatever happened."""
    home, port = tmp_path / "prefect-home", free_port()
    server.start(port=port, home=home, timeout_s=240)
    yield home, port
    server.stop(port=port, home=home, wait_s=30)


def _repro_with_outage(tmp_path: Path, params: dict, srv: tuple[Path, int],
                       down_until_exit: bool) -> tuple[Path, dict, int, str]:
    """`dvc repro` against a private server that goes down while filter builds its output; it comes back at once
    (down_until_exit=False) or only after dvc repro has exited. Returns the project, env, exit code, output."""
    home, port = srv
    url = server.api_url(port=port)
    p = make_project(tmp_path / "p", params, stages=STAGES)
    env = dict(project_env(p), PREFECT_API_URL=url)
    log_path = tmp_path / "repro.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro"], cwd=p, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        hit = False
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and proc.poll() is None:
                if (p / "data").exists() and any((p / "data").glob(".filtered.building-*")):
                    server.stop(port=port, home=home, wait_s=30)
                    assert not server.is_healthy(url)
                    hit = True
                    break
                time.sleep(0.02)
            if hit and not down_until_exit:
                t0 = time.monotonic()
                server.start(port=port, home=home, timeout_s=240)
                print(f"server back after {time.monotonic() - t0:.1f}s")
            rc = proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
    out = log_path.read_text()
    assert hit, "filter finished before the outage could hit it:\n" + out[-3000:]
    if down_until_exit:
        server.start(port=port, home=home, timeout_s=240)
    return p, env, rc, out


def _rerun_matches(p: Path, env: dict, expected: dict) -> None:
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=p, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert lock_hashes(p) == expected
    assert partial_leftovers(p / "data") == [] and partial_leftovers(p / "metrics") == []


def test_server_restarted_mid_run(tmp_path: Path, reference: tuple[dict, dict], private_server) -> None:
    """A restart of ~10-20 s: the run goes on (Prefect's client retries) or fails cleanly; either way no damage."""
    params, expected = reference
    p, env, rc, out = _repro_with_outage(tmp_path, params, private_server, down_until_exit=False)
    print(f"dvc repro across a restart: exit {rc}")
    if rc != 0:
        assert "stopped answering" in out, out[-3000:]
        assert lock_stages(p).get("filter") is None and partial_leftovers(p / "data") == []
    _rerun_matches(p, env, expected)
    states = _flow_run_states(env["PREFECT_API_URL"])
    assert "Completed" in states.get("order", []), states  # runs after the restart are recorded by the new server


def test_server_down_for_the_rest_of_the_run(tmp_path: Path, reference: tuple[dict, dict], private_server) -> None:
    """The server stays down: the stage fails naming the lost API, writes nothing, and dvc.lock keeps no entry
    for it; once the server is back, `dvc repro` completes with the undisturbed outputs."""
    params, expected = reference
    p, env, rc, out = _repro_with_outage(tmp_path, params, private_server, down_until_exit=True)
    assert rc != 0, out[-3000:]
    assert "stopped answering" in out, out[-5000:]
    assert "filter" not in lock_stages(p) and "order" not in lock_stages(p)
    assert lock_hashes(p)["crawl"] == expected["crawl"]
    assert not (p / "data/filtered").exists() and partial_leftovers(p / "data") == []
    _rerun_matches(p, env, expected)
