"""SIGKILL a data stage in the middle of its run, then `dvc repro` again: the rerun completes, its outputs are
byte-identical to an uninterrupted project's, nothing half-written is visible, and dvc.lock never points to a
partial artifact (the killed stage has no entry, or keeps its old one).

The kill lands while the stage builds its outputs: when a `.<name>.building-*` directory appears (plus a seeded
random delay of 0-0.4 s), the whole process group of `dvc repro <stage>` (DVC, the flow, its worker processes)
gets SIGKILL. Pretrain resume-after-kill is covered in tests/pretrain."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from robustness_support import lock_stages, partial_leftovers, tiny_params

from tests.support.corpus import make_git_corpus
from tests.support.project import dvc, lock_hashes, make_project, project_env

pytestmark = pytest.mark.soak
STAGES = ["crawl", "filter", "redact", "order", "dedup"]
SEED = 20240114


def kill_during_build(dest: Path, stage: str, rng: random.Random, timeout: float = 240) -> dict:
    """Start `dvc repro <stage>`, SIGKILL its process group once a building dir appears; report what happened."""
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", stage], cwd=dest, env=project_env(dest),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    data = dest / "data"
    deadline = time.monotonic() + timeout
    seen = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            building = sorted(data.glob(".*.building-*")) if data.exists() else []
            if building:
                seen = building[0].name
                time.sleep(rng.uniform(0.0, 0.4))
                break
            time.sleep(0.02)
    finally:
        finished_first = proc.poll() is not None
        if not finished_first:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    time.sleep(0.5)  # orphans of the group are gone too
    return {"building": seen, "killed": not finished_first, "rc": proc.returncode}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return make_git_corpus(tmp_path_factory.mktemp("kill-repos"))


def test_kill_data_stages_then_repro(tmp_path: Path, corpus: list[dict], prefect_api_url: str) -> None:
    rng = random.Random(SEED)
    params = tiny_params(corpus, tmp_path / "cache")
    ref = make_project(tmp_path / "ref", params, stages=STAGES)
    dvc(ref, "repro")
    expected = lock_hashes(ref)
    assert set(expected) == set(STAGES)

    p = make_project(tmp_path / "killed", params, stages=STAGES)
    dvc(p, "repro", "crawl")
    for stage in ["filter", "order", "dedup"]:
        before = lock_stages(p).get(stage)
        outcome = kill_during_build(p, stage, rng)
        assert outcome["killed"] and outcome["building"], outcome
        # dvc.lock does not point to a partial artifact: the killed stage has no (new) entry
        assert lock_stages(p).get(stage) == before is None
        for out in (p / "data").iterdir():
            assert not out.name.startswith(".") or ".building-" in out.name, out.name
        dvc(p, "repro", stage)
        assert lock_hashes(p)[stage] == expected[stage], stage
        assert partial_leftovers(p / "data") == []
    assert lock_hashes(p) == expected
    assert partial_leftovers(p / "data") == [] and partial_leftovers(p / "metrics") == []


def test_kill_rerun_keeps_old_outputs_and_lock(tmp_path: Path, corpus: list[dict], prefect_api_url: str) -> None:
    """A killed re-run (params changed) leaves the previous dvc.lock entry in place, and the previous output
    comes back from DVC's cache (DVC removes a stage's outputs before running it; the flow never leaves a
    partial one in their place)."""
    rng = random.Random(SEED + 1)
    p = make_project(tmp_path / "p", tiny_params(corpus, tmp_path / "cache"), stages=["crawl", "filter"])
    dvc(p, "repro")
    old_entry = lock_stages(p)["filter"]
    old_files = {f.name: f.read_bytes() for f in sorted((p / "data/filtered").iterdir())}
    from robustness_support import set_params

    set_params(p, {"filter": {"max_line_length": 900}})
    outcome = kill_during_build(p, "filter", rng)
    assert outcome["killed"] and outcome["building"], outcome
    assert lock_stages(p)["filter"] == old_entry
    dvc(p, "checkout", "filter")
    assert {f.name: f.read_bytes() for f in sorted((p / "data/filtered").iterdir())} == old_files
    dvc(p, "repro")
    assert partial_leftovers(p / "data") == []
    assert lock_stages(p)["filter"]["params"]["params.yaml"]["filter"]["max_line_length"] == 900
