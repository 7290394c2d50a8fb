"""`dvc repro` the README way (an activated venv, no PREFECT_API_URL exported) reports every stage and
every one of its partition jobs to the project's own server: no temporary server starts inside a stage
(Prefect reads its settings at import, so the URL must be in the environment before that, see
flows/__init__.py), and the server's log has no `FOREIGN KEY constraint failed` from runs it never saw."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import server
from tests.support.corpus import make_git_corpus
from tests.support.project import make_project, project_env

pytestmark = pytest.mark.e2e


def _task_runs_and_logs(url: str) -> dict:
    """Task run names on the server, and how many log lines it holds from inside task runs."""
    code = ("import asyncio, json\nfrom prefect.client.orchestration import get_client\n"
            "async def main():\n    async with get_client() as c:\n"
            "        runs = await c.read_task_runs()\n        logs = await c.read_logs()\n"
            "        print(json.dumps({'names': sorted(r.name for r in runs),\n"
            "                          'task_logs': sum(1 for l in logs if l.task_run_id)}))\nasyncio.run(main())\n")
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PREFECT_API_URL=url),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_dvc_repro_without_api_url_uses_the_projects_server(tmp_path: Path) -> None:
    params = {"runtime": {"workers": 2, "task_runner": "process"},
              "crawl": {"manifest": None, "sources": make_git_corpus(tmp_path / "repos"),
                        "cache_dir": str(tmp_path / "cache")},
              "filter": {"gate": {"pass_rate_bytes": {"min": 0.0, "max": 1.0}, "pass_rate_files": {"min": 0.0, "max": 1.0},
                                  "language_share": {"default": [0.0, 1.0], "Python": [0.0, 1.0], "C": [0.0, 1.0],
                                                     "JavaScript": [0.0, 1.0]}}}}
    project = make_project(tmp_path / "p", params, stages=["crawl", "filter"])
    home, port = tmp_path / "prefect-home", server.free_port()
    env = project_env(project)
    env.pop("PREFECT_API_URL", None)  # the README way: nothing exported but the venv
    env.update(PREFECT_HOME=str(home), CODER_PIPELINE_PREFECT_PORT=str(port),
               PREFECT_LOGGING_LEVEL="INFO")  # Prefect says "Starting temporary server" at INFO
    try:
        proc = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=project, env=env, capture_output=True,
                              text=True, timeout=900)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-5000:]
        assert "temporary server" not in output.lower()
        found = _task_runs_and_logs(server.api_url(port=port))
        partitions = len(list((project / "data" / "raw").glob("part-*.parquet")))
        assert partitions >= 2
        assert sum(n.startswith("filter/part-") for n in found["names"]) == partitions  # every worker's run
        assert any(n.startswith("crawl-source/") for n in found["names"])
        assert found["task_logs"] >= partitions  # the workers' log lines, forwarded by the stage, arrived here
        log = (home / f"server-{port}.log").read_text(errors="replace")
        assert "FOREIGN KEY constraint failed" not in log
    finally:
        server.stop(port=port, home=home, wait_s=30)
