"""The nightly refresh flow runs DVC's stages in DVC's order and retries a stage that fails once."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

DVC_YAML = {
    "stages": {
        # declared out of order on purpose: the flow must take the order from DVC's graph
        "third": {"cmd": "python step.py third second.txt third.txt", "deps": ["second.txt", "step.py"], "outs": ["third.txt"]},
        "first": {"cmd": "python step.py first seed.txt first.txt", "deps": ["seed.txt", "step.py"], "outs": ["first.txt"]},
        "second": {"cmd": "python flaky.py && python step.py second first.txt second.txt",
                   "deps": ["first.txt", "step.py", "flaky.py"], "outs": ["second.txt"]},
    }
}
STEP = """import sys, pathlib
name, src, dst = sys.argv[1:]
with open("order.log", "a") as log:
    log.write(name + "\\n")
pathlib.Path(dst).write_text(pathlib.Path(src).read_text() + name + "\\n")
"""
# Fails on its first call only: the marker file makes the retry succeed (an injected transient fault).
FLAKY = """import pathlib, sys
marker = pathlib.Path("flaky.marker")
if not marker.exists():
    marker.write_text("failed once")
    sys.exit("injected failure")
"""


def make_dvc_project(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML))
    (root / "params.yaml").write_text(yaml.safe_dump({"refresh": {"retries": 2, "retry_delay_s": 0}}))
    (root / "step.py").write_text(STEP)
    (root / "flaky.py").write_text(FLAKY)
    (root / "seed.txt").write_text("seed\n")
    (root / ".gitignore").write_text("flaky.marker\norder.log\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)


def test_stage_order_comes_from_dvc(tmp_path: Path) -> None:
    from flows.dvc_graph import stage_order

    make_dvc_project(tmp_path)
    assert stage_order(tmp_path) == ["first", "second", "third"]


def test_refresh_runs_in_dvc_order_and_retries(tmp_path: Path, prefect_api_url: str, monkeypatch) -> None:
    from flows.refresh import refresh

    make_dvc_project(tmp_path)
    # dvc's stage commands run `python`: make sure it is this interpreter
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + ":" + __import__("os").environ["PATH"])
    summary = refresh(root=str(tmp_path))
    assert [s["stage"] for s in summary] == ["first", "second", "third"]
    assert (tmp_path / "order.log").read_text().split() == ["first", "second", "third"]
    assert (tmp_path / "flaky.marker").exists(), "the injected failure happened"
    assert (tmp_path / "third.txt").read_text() == "seed\nfirst\nsecond\nthird\n"
    assert (tmp_path / "dvc.lock").exists()

    # a second refresh finds everything up to date
    again = refresh(root=str(tmp_path))
    assert [s["status"] for s in again] == ["up to date"] * 3
    assert (tmp_path / "order.log").read_text().split() == ["first", "second", "third"]


def test_refresh_fails_when_a_stage_keeps_failing(tmp_path: Path, prefect_api_url: str, monkeypatch) -> None:
    import pytest
    from flows.refresh import refresh

    make_dvc_project(tmp_path)
    (tmp_path / "flaky.py").write_text("import sys; sys.exit('always broken')\n")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + ":" + __import__("os").environ["PATH"])
    with pytest.raises(RuntimeError, match="always broken"):
        refresh(root=str(tmp_path), retries=1)
    assert not (tmp_path / "third.txt").exists()


def test_each_stage_is_a_child_run_of_the_nightly_parent(tmp_path: Path, prefect_api_url: str, monkeypatch) -> None:
    """The UI shows one refresh run with a child flow run per stage, although each stage is its own process."""
    import asyncio
    import os

    from flows.refresh import refresh
    from tests.support.corpus import make_git_corpus
    from tests.support.project import make_project, project_env

    params = {"runtime": {"workers": 2, "task_runner": "thread"},
              "crawl": {"manifest": None, "sources": make_git_corpus(tmp_path / "repos"), "cache_dir": str(tmp_path / "c")},
              "filter": {"gate": {"mode": "warn"}}}
    project = make_project(tmp_path / "p", params, stages=["crawl", "filter"])
    for key, value in project_env(project).items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    state = refresh(root=str(project), return_state=True)
    assert state.is_completed()
    parent_id = state.state_details.flow_run_id

    async def runs():
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            tasks = {t.id: t for t in await client.read_task_runs()}
            flows = {f.id: f.name for f in await client.read_flows()}
            children = [r for r in await client.read_flow_runs() if r.parent_task_run_id in tasks
                        and tasks[r.parent_task_run_id].flow_run_id == parent_id]
            return {flows[r.flow_id]: (tasks[r.parent_task_run_id].name, r.state_name) for r in children}

    assert asyncio.run(runs()) == {"crawl": ("crawl", "Completed"), "filter": ("filter", "Completed")}
