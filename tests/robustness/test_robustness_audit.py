"""The reproducibility audit (`python -m flows.audit`): two clean copies, `dvc repro` in each, every output
hash of dvc.lock compared; exit 0 only when all are identical."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from robustness_support import tiny_params

from flows import audit
from tests.support.corpus import make_git_corpus

ROOT = Path(__file__).resolve().parents[2]


def test_upstream_stages_come_from_dvc_yaml() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert audit.with_upstream(stages, ["dedup"]) == ["crawl", "filter", "redact", "order", "dedup"]
    assert audit.with_upstream(stages, ["filter"]) == ["crawl", "filter"]
    with pytest.raises(SystemExit):
        audit.with_upstream(stages, ["nope"])


def test_compare_flags_a_differing_or_missing_output() -> None:
    a = {("filter", "data/filtered"): "aa.dir", ("filter", "metrics/filter.json"): "m1"}
    b = {("filter", "data/filtered"): "bb.dir", ("filter", "metrics/filter.json"): "m1", ("crawl", "data/raw"): "r"}
    rows = audit.compare(a, b)
    assert [(r["stage"], r["path"], r["identical"]) for r in rows] == [
        ("crawl", "data/raw", False), ("filter", "data/filtered", False), ("filter", "metrics/filter.json", True)]
    table = audit.format_table(rows)
    assert "aa.dir" in table and "bb.dir" in table and table.count("NO") == 2


def test_relative_caches_are_shared_absolute_ones_kept(tmp_path: Path) -> None:
    params = {"crawl": {"cache_dir": ".cache/crawl"}, "quality": {"decontam": {"cache_dir": str(tmp_path)}}}
    out = audit.shared_caches(params)
    assert out["crawl"]["cache_dir"] == str(ROOT / ".cache/crawl")
    assert out["quality"]["decontam"]["cache_dir"] == str(tmp_path)


def test_audit_data_stages_are_reproducible(tmp_path: Path, prefect_api_url: str) -> None:
    specs = make_git_corpus(tmp_path / "repos")
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump(tiny_params(specs, tmp_path / "crawl-cache")))
    rows_path = tmp_path / "rows.json"
    env = dict(os.environ, PREFECT_API_URL=prefect_api_url)
    proc = subprocess.run([sys.executable, "-m", "flows.audit", "--stages", "quality", "--params-override",
                           str(override), "--workdir", str(tmp_path / "work"), "--json", str(rows_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    rows = json.loads(rows_path.read_text())
    stages = {r["stage"] for r in rows}
    assert stages == {"crawl", "filter", "redact", "order", "dedup", "quality"}
    assert all(r["identical"] and r["hash_a"] for r in rows)
    assert {"data/raw", "data/filtered", "data/ordered", "data/deduped", "data/clean"} <= {r["path"] for r in rows}
    assert "identical" in proc.stdout and "reproducible" in proc.stdout
    assert not (tmp_path / "work" / "a").exists()  # the copies are removed without --keep
