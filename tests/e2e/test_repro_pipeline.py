"""`dvc repro` end to end over a corpus of local git repositories the test generates (no network)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.corpus import make_git_corpus
from tests.support.project import dvc, lock_hashes, make_project

pytestmark = pytest.mark.e2e
STAGES = ["crawl", "filter", "order", "dedup"]


def corpus_params(specs: list[dict], cache: Path) -> dict:
    return {
        "runtime": {"workers": 2},
        "crawl": {"manifest": None, "sources": specs, "n_shards": 2, "cache_dir": str(cache)},
        "filter": {"gate": {"pass_rate_bytes": {"min": 0.2, "max": 0.95},
                            "pass_rate_files": {"min": 0.2, "max": 0.95},
                            "language_share": {"default": [0.0, 0.9], "Python": [0.0, 1.0], "C": [0.0, 1.0],
                                               "JavaScript": [0.0, 1.0]}}},
    }


@pytest.fixture(scope="module")
def git_specs(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return make_git_corpus(tmp_path_factory.mktemp("repos"))


def test_repro_crawl_filter_end_to_end(tmp_path: Path, git_specs: list[dict], prefect_api_url: str) -> None:
    a = make_project(tmp_path / "a", corpus_params(git_specs, tmp_path / "cache-a"), stages=STAGES)
    dvc(a, "repro")

    crawl = json.loads((a / "metrics/crawl.json").read_text())
    assert crawl["repos"] == 4 and crawl["repos_failed"] == 0
    assert {"Python", "C", "JavaScript", "TypeScript", "Markdown"} <= set(crawl["by_language"])

    decisions = pq.read_table(a / "data/filter_decisions").to_pylist()
    reason = {(d["repo"].split("/")[1].split("@")[0], d["path"]): d["reason"] for d in decisions}
    assert reason[("pyrepo", "pkg/core.py")] is None
    assert reason[("pyrepo", "data/minified.js")] is not None
    assert reason[("pyrepo", "assets/logo.png")] is not None
    assert reason[("pyrepo", "config/tiny.yaml")] is not None
    assert reason[("crepo", "data.xml")] is not None
    assert reason[("crepo", "docs/index.html")] is None
    assert reason[("crepo", "docs/layout.html")] is not None
    assert all(d["kept"] == (d["reason"] is None) for d in decisions)

    # order: each file comes after the files it imports; the repo's import graph is one sample
    samples = pq.read_table(a / "data/ordered").to_pylist()
    core = next(s for s in samples if s["repo"].startswith("git/pyrepo@") and "pkg/core.py" in s["files"])
    files = core["files"]
    assert files.index("pkg/util.py") < files.index("pkg/core.py")
    assert files.index("pkg/helpers.py") < files.index("pkg/core.py")
    assert files.index("pkg/core.py") < files.index("pkg/__init__.py")
    assert core["text"].startswith("# pkg/")
    c = next(s for s in samples if s["repo"].startswith("git/crepo@") and "src/main.c" in s["files"])
    assert c["files"].index("include/mathx.h") < c["files"].index("src/main.c")

    # dedup: the fork is a near-duplicate, exactly one of the pair survives, whole repos only
    dedup = json.loads((a / "metrics/dedup.json").read_text())
    assert dedup["repos_dropped"] == 1
    (dropped,) = dedup["dropped"]
    assert {dropped["repo"].split("@")[0], dropped["kept_repo"].split("@")[0]} == {"git/pyrepo", "git/pyrepo-fork"}
    deduped_repos = set(pq.read_table(a / "data/deduped", columns=["repo"]).column("repo").to_pylist())
    assert dropped["repo"] not in deduped_repos and len(deduped_repos) == 3

    kept = pq.read_table(a / "data/filtered").num_rows
    filt = json.loads((a / "metrics/filter.json").read_text())
    assert kept == filt["files_kept"] == sum(d["kept"] for d in decisions)
    assert 0 < filt["pass_rate_bytes"] < 1

    # nothing changed: a second repro is a no-op and fast
    started = time.monotonic()
    out = dvc(a, "repro").stdout
    assert "didn't change" in out or "up to date" in out.lower()
    assert time.monotonic() - started < 30

    # a second project from the same inputs gives byte-identical artifacts
    b = make_project(tmp_path / "b", corpus_params(git_specs, tmp_path / "cache-b"), stages=STAGES)
    dvc(b, "repro")
    assert lock_hashes(a) == lock_hashes(b)


def test_gate_fails_on_skewed_corpus(tmp_path: Path, git_specs: list[dict], prefect_api_url: str) -> None:
    """A language mix outside its band fails the filter stage; dvc.lock keeps no filter entry."""
    params = corpus_params(git_specs, tmp_path / "cache")
    params["filter"]["gate"]["language_share"] = {"default": [0.0, 0.9], "Python": [0.0, 0.05]}
    p = make_project(tmp_path / "p", params, stages=STAGES)
    proc = dvc(p, "repro", check=False)
    assert proc.returncode != 0
    assert "gate" in (proc.stdout + proc.stderr).lower()
    lock = (p / "dvc.lock").read_text() if (p / "dvc.lock").exists() else ""
    assert "filter:" not in lock
    assert not (p / "data/filtered").exists() or not any((p / "data/filtered").iterdir())
