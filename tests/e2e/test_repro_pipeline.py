"""`dvc repro` of the whole pipeline over a corpus of local git repositories the test generates (no network):
crawl -> filter -> order -> dedup -> quality -> tokenizer -> pack -> pretrain -> evaluate."""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.corpus import make_git_corpus
from tests.support.project import dvc, lock_hashes, make_project

pytestmark = pytest.mark.e2e
DATA_STAGES = ["crawl", "filter"]
QUALITY_CACHE = Path(tempfile.gettempdir()) / "coder-pipeline-test-quality-index"


def corpus_params(specs: list[dict], cache: Path, runner: str = "thread") -> dict:
    return {
        # threads: the corpus is tiny, process start-up would dominate (the gate test below uses processes)
        "runtime": {"workers": 2, "task_runner": runner},
        # the benchmark n-gram index is the same for every project: build it once per session (quality, below)
        "crawl": {"manifest": None, "sources": specs, "cache_dir": str(cache)},
        "tokenizer": {"vocab_size": 400, "heldout_fraction": 0.2},
        "pack": {"seq_len": 64, "val_ratio": 0.5, "workers": 1, "cooldown": {"languages": [], "fraction": 0.5}},
        "pretrain": {"model": "tiny", "steps": 6, "batch_size": 4, "warmup": 2, "checkpoint_every": 3, "eval_every": 3,
                     "eval_batches": 1, "phases": [
                         {"name": "main", "split": "train", "schedule": "warmup_step", "seq_len": 32},
                         {"name": "long_context", "split": "train", "schedule": "constant", "steps": 2, "seq_len": 64,
                          "rope_theta": 100000, "rope_scaling": 4, "batch_size": 2},
                         {"name": "cooldown", "split": "cooldown", "schedule": "linear", "steps": 2, "seq_len": 32,
                          "rope_theta": 100000, "rope_scaling": 4, "batch_size": 2}]},
        "evaluate": {"limit": {"humaneval": 2, "mbpp": 2, "humaneval_fim": 2, "val_ppl": None, "val_next_line": None,
                               "val_fim": None},
                     "max_new_tokens": 8, "batch_size": 2,
                     "validation": {"max_sequences": 4, "max_docs": 4}},
        # gates pinned for the generated corpus: enforced, no drift check (a calibrated params.yaml or an accepted
        # snapshot in expectations/accepted/ describes the user's corpus, not this one)
        "filter": {"gate": {"mode": "enforce", "drift": None, "pass_rate_bytes": {"min": 0.2, "max": 0.95},
                            "pass_rate_files": {"min": 0.2, "max": 0.95},
                            "language_share": {"default": [0.0, 0.9], "Python": [0.0, 1.0], "C": [0.0, 1.0],
                                               "JavaScript": [0.0, 1.0]}}},
        "order": {"gate": {"mode": "enforce", "drift": None, "min_resolution_rate": 0.2}},
        "dedup": {"gate": {"mode": "enforce", "drift": None, "dropped_share": [0.0, 0.3]}},
        "quality": {"decontam": {"cache_dir": str(QUALITY_CACHE)},
                    "gate": {"mode": "enforce", "drift": None, "max_contaminated_files": None,
                             "max_removed_file_share": 0.5}},
    }


@pytest.fixture(scope="module")
def git_specs(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    return make_git_corpus(tmp_path_factory.mktemp("repos"))


def test_repro_pipeline_end_to_end(tmp_path: Path, git_specs: list[dict], prefect_api_url: str) -> None:
    a = make_project(tmp_path / "a", corpus_params(git_specs, tmp_path / "cache-a"))
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
    # exact file dedup ran first over the whole corpus: the fork's unchanged files are copies of the original's
    assert dedup["exact"]["files_dropped"] >= 5 and 0 < dedup["exact"]["byte_share"] < 1
    assert pq.read_table(a / "data/dedup_exact").num_rows == dedup["exact"]["files_dropped"]

    # redact: every kept file was scanned; the rescan of the redacted text found nothing
    redact = json.loads((a / "metrics/redact.json").read_text())
    assert redact["files"] == json.loads((a / "metrics/filter.json").read_text())["files_kept"]
    assert redact["residual"] == 0

    # quality: nothing in this corpus is contaminated; every clean sample still has files
    quality = json.loads((a / "metrics/quality.json").read_text())
    assert quality["contamination"]["files"] == 0
    assert all(s["n_files"] == len(s["files"]) > 0 for s in pq.read_table(a / "data/clean").to_pylist())

    # tokenizer: the DeepSeek-Coder special tokens, lossless round trip on held-out text
    tok = json.loads((a / "metrics/tokenizer.json").read_text())
    assert tok["special_tokens"]["<｜fim▁begin｜>"] == 2
    assert (a / "models/tokenizer/tokenizer.json").exists()

    # pack: train / val by repository, never a repo in both
    from tasks.pack.format import PackedDataset

    train, val = PackedDataset.open(a / "data/packed/train"), PackedDataset.open(a / "data/packed/val")
    assert len(train) > 0 and len(val) > 0 and train.seq_len == 64
    heldout = set(pq.read_table(a / "data/heldout", columns=["repo"]).column("repo").to_pylist())
    assert heldout and heldout <= deduped_repos

    # pretrain: trained, exported in Hugging Face format; evaluate: the scores exist for every benchmark
    pre = json.loads((a / "metrics/pretrain.json").read_text())
    assert pre["steps"] == 10 and pre["train_loss"] > 0
    assert (a / "models/export/config.json").exists() and (a / "models/export/model.safetensors").exists()
    assert (a / "dvclive/pretrain/plots/metrics/train/loss.tsv").exists()
    ev = json.loads((a / "metrics/eval.json").read_text())
    assert {"humaneval_pass@1", "mbpp_pass@1", "humaneval_fim_exact_match", "val_perplexity"} <= set(ev["summary"])
    assert ev["benchmarks"]["humaneval"]["n_problems"] == 2

    # report: one static page over the whole run
    page = (a / "reports/index.html").read_text()
    assert "<svg" in page and "pyrepo" in page
    assert json.loads((a / "metrics/report.json").read_text())

    kept = pq.read_table(a / "data/filtered").num_rows
    filt = json.loads((a / "metrics/filter.json").read_text())
    assert kept == filt["files_kept"] == sum(d["kept"] for d in decisions)
    assert 0 < filt["pass_rate_bytes"] < 1

    # nothing changed: a second repro is a no-op and fast
    started = time.monotonic()
    out = dvc(a, "repro").stdout
    assert "didn't change" in out or "up to date" in out.lower()
    assert time.monotonic() - started < 30

    # a second project from the same inputs gives byte-identical artifacts for every data stage (training
    # and evaluation determinism are proven in tests/pretrain and tests/evaluate, more cheaply)
    b = make_project(tmp_path / "b", corpus_params(git_specs, tmp_path / "cache-b"))
    dvc(b, "repro", "pack")
    hashes_a, hashes_b = lock_hashes(a), lock_hashes(b)
    assert set(hashes_b) == {"crawl", "filter", "redact", "order", "dedup", "quality", "tokenizer", "pack"}
    assert {k: hashes_a[k] for k in hashes_b} == hashes_b


def test_gate_fails_on_skewed_corpus(tmp_path: Path, git_specs: list[dict], prefect_api_url: str) -> None:
    """A language mix outside its band fails the filter stage; dvc.lock keeps no filter entry."""
    params = corpus_params(git_specs, tmp_path / "cache", runner="process")
    params["filter"]["gate"]["language_share"] = {"default": [0.0, 0.9], "Python": [0.0, 0.05]}
    p = make_project(tmp_path / "p", params, stages=DATA_STAGES)
    proc = dvc(p, "repro", check=False)
    assert proc.returncode != 0
    assert "gate" in (proc.stdout + proc.stderr).lower()
    import yaml

    lock = yaml.safe_load((p / "dvc.lock").read_text()) if (p / "dvc.lock").exists() else {}
    assert "filter" not in (lock or {}).get("stages", {})
    assert not (p / "data/filtered").exists() or not any((p / "data/filtered").iterdir())
