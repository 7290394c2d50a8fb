"""Two nights of the nightly refresh (flows/refresh.py, as the deployment runs it): on the second, a source
is added and another one's branch moved to a new commit. What reran is only what those changes touched,
the committed partition jobs of everything else are reused, and every data stage's outputs are
byte-identical to a from-scratch run on the second night's sources."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.corpus import GIT_ENV, make_git_corpus
from tests.support.project import dvc, lock_hashes, make_project, project_env

pytestmark = pytest.mark.e2e
DATA = ["crawl", "filter", "redact", "order", "dedup", "quality", "tokenizer", "pack"]


def night_params(specs: list[dict], cache: Path) -> dict:
    from tests.robustness.robustness_support import tiny_params

    params = tiny_params(specs, cache)
    # partitions of a fixed size (not min_partitions of the total): a new repository moves only its own
    # partition's neighbourhood, as on a corpus larger than min_partitions x partition_mb
    params["runtime"].update(partition_mb=0.004, min_partitions=1)
    params["tokenizer"]["frozen"] = True
    return params


def refresh(project: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    from flows.refresh import refresh as refresh_flow

    with monkeypatch.context() as m:
        for key, value in project_env(project).items():
            m.setenv(key, value)
        return refresh_flow(root=str(project), stages=DATA)


def test_two_nights_recompute_the_delta_and_match_a_fresh_run(tmp_path: Path, prefect_api_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    repos = tmp_path / "repos"
    specs = make_git_corpus(repos)
    night1, newcomer = specs[:3], specs[3]
    project = make_project(tmp_path / "nightly", night_params(night1, tmp_path / "cache"), stages=DATA)
    first = {s["stage"]: s for s in refresh(project, monkeypatch)}
    assert all(first[s]["status"] == "ran" for s in DATA)

    # the second night: a new source, and the fork's branch moves to a new commit
    moved = repos / "pyrepo-fork"
    (moved / "pkg" / "extra.py").write_text("def extra(values):\n    return [v * 7 for v in values]\n")
    env = dict(os.environ, **GIT_ENV)
    subprocess.run(["git", "add", "-A"], cwd=moved, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "night two"], cwd=moved, check=True, env=env)
    params_path = project / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["crawl"]["sources"] = night1 + [newcomer]
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    second = {s["stage"]: s for s in refresh(project, monkeypatch)}

    delta = json.loads((project / "reports" / "delta" / "crawl.json").read_text())
    assert [name.split("/", 1)[1] for name in delta["added"]] == ["jsrepo"]
    assert [c["source"].split("/", 1)[1] for c in delta["changed"]] == ["pyrepo-fork"] and not delta["removed"]
    # only what changed was crawled again; every stage reused some of its committed partition jobs
    crawl = json.loads((project / "reports" / "timings" / "crawl.json").read_text())
    assert crawl["sources_computed"] == 2 and crawl["sources_reused"] == 2
    for stage in ("filter", "redact", "order"):  # the partition of the untouched repository (dedup may move
        assert second[stage]["partitions_reused"] >= 1, (stage, second[stage])  # any other, on 4 repos)
    tokenizer = json.loads((project / "metrics" / "tokenizer.json").read_text())
    assert tokenizer["frozen"] is True  # the first night's tokenizer, kept

    # the same outputs as a project that only ever saw the second night's sources (its tokenizer trained
    # on them: compare the stages before the tokenizer; pack with the kept tokenizer is checked below)
    fresh = make_project(tmp_path / "fresh", night_params(night1 + [newcomer], tmp_path / "cache-fresh"), stages=DATA)
    dvc(fresh, "repro", "quality")
    got, want = lock_hashes(project), lock_hashes(fresh)
    for stage in ("crawl", "filter", "redact", "order", "dedup", "quality"):
        assert got[stage] == want[stage], stage
    # pack on the kept tokenizer equals a fresh pack on that tokenizer (given to the fresh project's frozen,
    # persisting tokenizer stage)
    (fresh / "models").mkdir(exist_ok=True)
    subprocess.run(["cp", "-r", str(project / "models" / "tokenizer"), str(fresh / "models" / "tokenizer")], check=True)
    dvc(fresh, "repro", "pack")
    assert lock_hashes(fresh)["tokenizer"]["models/tokenizer"] == got["tokenizer"]["models/tokenizer"]
    assert lock_hashes(fresh)["pack"] == got["pack"]
