"""SIGKILL a data stage in the middle of its run, then `dvc repro` again: the rerun completes, its outputs are
byte-identical to an uninterrupted project's, nothing half-written is visible, dvc.lock never points to a
partial artifact (the killed stage has no entry, or keeps its old one), and the rerun redoes only the
partition jobs the killed run had not committed.

The kill lands while the stage builds its outputs: when a `.<name>.building-*` directory appears (plus a seeded
random delay of 0-0.4 s), or - for dedup and pack - as soon as the first job of a later step has committed to
the partition cache, the whole process group of `dvc repro <stage>` (DVC, the flow, its worker processes) gets
SIGKILL. Pretrain resume-after-kill is covered in tests/pretrain."""
from __future__ import annotations

import json
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

STAGES = ["crawl", "filter", "redact", "order", "dedup", "quality", "tokenizer", "pack"]
SEED = 20240114


def _building(dest: Path) -> list[Path]:
    data = dest / "data"
    return sorted(data.glob(".*.building-*")) if data.exists() else []


def _committed(step: str):
    """A kill trigger: the first committed job of a partition-cache step (e.g. dedup-verify)."""
    def found(dest: Path) -> list[Path]:
        return sorted((dest / ".cache" / "partitions" / step).glob("*/summary.json"))
    return found


def kill_during_build(dest: Path, stage: str, rng: random.Random, timeout: float = 240, when=_building,
                      delay: bool = True) -> dict:
    """Start `dvc repro <stage>`, SIGKILL its process group once `when(dest)` finds something; report it."""
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", stage], cwd=dest, env=project_env(dest),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    seen = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            hits = when(dest)
            if hits:
                seen = hits[0].name
                if delay:
                    time.sleep(rng.uniform(0.0, 0.4))
                break
            time.sleep(0.01)
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


def _timings(p: Path, stage: str) -> dict:
    return json.loads((p / "reports" / "timings" / f"{stage}.json").read_text())


def test_kill_data_stages_then_repro(tmp_path: Path, corpus: list[dict], prefect_api_url: str) -> None:
    rng = random.Random(SEED)
    params = tiny_params(corpus, tmp_path / "cache")
    ref = make_project(tmp_path / "ref", params, stages=STAGES)
    dvc(ref, "repro")
    expected = lock_hashes(ref)
    assert set(expected) == set(STAGES)

    p = make_project(tmp_path / "killed", params, stages=STAGES)
    dvc(p, "repro", "crawl")
    # filter: killed while it builds its outputs; dedup: once its verification has begun committing; pack:
    # once its first unit is encoded (the stages between run normally)
    kills = [("filter", _building, True), ("redact", None, None), ("order", None, None),
             ("dedup", _committed("dedup-verify"), False), ("quality", None, None),
             ("tokenizer", None, None), ("pack", _committed("pack-encode"), False)]
    for stage, when, delay in kills:
        if when is None:
            dvc(p, "repro", stage)
            continue
        before = lock_stages(p).get(stage)
        outcome = kill_during_build(p, stage, rng, when=when, delay=delay)
        assert outcome["killed"] and outcome["building"], outcome
        # dvc.lock does not point to a partial artifact: the killed stage has no (new) entry
        assert lock_stages(p).get(stage) == before is None
        for out in (p / "data").iterdir():
            assert not out.name.startswith(".") or ".building-" in out.name, out.name
        dvc(p, "repro", stage)
        assert lock_hashes(p)[stage] == expected[stage], stage
        assert partial_leftovers(p / "data") == []
        if stage == "dedup":  # every step before verification was committed: all reused, none redone
            t = _timings(p, "dedup")
            for step in ("hashes", "groups", "signatures", "candidates"):
                assert t[f"{step}_reused"] == t[f"{step}_partitions"] > 0 and t[f"{step}_computed"] == 0, (step, t)
            assert t["verify_reused"] >= 1, t
        if stage == "pack":
            t = _timings(p, "pack")
            assert t["reused"] >= 1 and t["reused"] + t["computed"] == t["partitions"], t
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
