"""Shared pieces of the cluster tests: the generated git corpus, and params for a data-stage project."""
from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import tests.dedup.dedup_corpus as dc
from tests.e2e.test_repro_pipeline import corpus_params
from tests.support.project import dvc, make_project
from tests.support.corpus import make_git_corpus

DATA_STAGES = ["crawl", "filter", "redact", "order", "dedup", "quality", "tokenizer", "pack"]


@pytest.fixture(scope="session")
def git_specs(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return make_git_corpus(tmp_path_factory.mktemp("cluster-repos"))


def ordered_corpus(root: Path) -> None:
    """data/ordered shards of 8 repository families (an original and near/far copies each): dedup's input."""
    rnd = random.Random(7)
    vocab = dc.vocabulary()
    repos, stars = {}, {}
    for fam in range(8):
        base = dc.code_like(rnd, vocab, 600)
        for v, rate in enumerate((0.0, 0.004, 0.3)):
            name = f"git/fam{fam}-v{v}@1"
            repos[name] = [dc.render(dc.mutate(base, rate, rnd, vocab))]
            stars[name] = rnd.choice([None, 1, 5])
    dc.write_ordered(root / "data/ordered", repos, 4, stars)


def dedup_project(dest: Path, runner: str) -> Path:
    params = {"runtime": {"workers": 2, "task_runner": runner, "partition_mb": 0.001},
              "dedup": {"gate": {"dropped_share": [0.0, 1.0]}}}
    project = make_project(dest, params, stages=["dedup"])
    ordered_corpus(project)  # not a stage's output: DVC takes it as a plain dependency
    return project


@pytest.fixture(scope="session")
def local_dedup(tmp_path_factory: pytest.TempPathFactory, prefect_api_url: str) -> Path:
    """The reference: the dedup stage with the local thread runner."""
    project = dedup_project(tmp_path_factory.mktemp("dedup-local") / "p", "thread")
    started = time.monotonic()
    dvc(project, "repro", "dedup")
    print(f"dedup with the local thread runner: {time.monotonic() - started:.1f}s")
    return project


def data_params(specs: list[dict], cache: Path, runner: str, **runtime: Any) -> dict:
    params = corpus_params(specs, cache, runner=runner)
    params["runtime"].update(runtime)
    return params


def set_runtime(project: Path, **runtime: Any) -> None:
    """Point a project copy at a cluster whose address is known only once it is up."""
    path = project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["runtime"].update(runtime)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def jobs_run(project: Path, stage: str) -> int:
    """How many partition jobs a stage ran (reports/timings/<stage>.json counts them per step)."""
    timings = json.loads((project / "reports" / "timings" / f"{stage}.json").read_text())
    return sum(v for k, v in timings.items() if k == "partitions" or k.endswith("_partitions"))
