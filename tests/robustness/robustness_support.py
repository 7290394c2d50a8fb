"""Shared helpers of the robustness tests: project copies, running a stage flow as a process,
dvc.lock inspection, and a scan for leftover temp files."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.support.project import deep_update, project_env

DATA_STAGES = ["crawl", "filter", "redact", "order", "dedup", "quality"]


def tiny_params(specs: list[dict], cache: Path) -> dict[str, Any]:
    """Params for a tiny data-stage run over `specs` (gate bands wide enough for a few repos)."""
    return {
        # threads: process start-up would dominate on a corpus this small (the process pool, Dask and Ray
        # paths have their own tests); a kill still takes the whole process group
        "runtime": {"workers": 2, "task_runner": "thread"},
        "crawl": {"manifest": None, "sources": specs, "cache_dir": str(cache)},
        "filter": {"gate": {"pass_rate_bytes": {"min": 0.0, "max": 1.0},
                            "pass_rate_files": {"min": 0.0, "max": 1.0},
                            "language_share": {"default": [0.0, 1.0], "Python": [0.0, 1.0], "C": [0.0, 1.0],
                                               "JavaScript": [0.0, 1.0]}}},
        "order": {"gate": {"min_resolution_rate": 0.0}},
        "dedup": {"gate": {"dropped_share": [0.0, 1.0]}},
        # the benchmark n-gram index is the same for every project: built once per machine (as the e2e tests do)
        "quality": {"gate": {"max_removed_file_share": 1.0},
                    "decontam": {"cache_dir": str(Path(tempfile.gettempdir()) / "coder-pipeline-test-quality-index")}},
        "tokenizer": {"vocab_size": 400, "heldout_fraction": 0.2},
        "pack": {"seq_len": 64, "val_ratio": 0.5, "cooldown": {"languages": [], "fraction": 0.5}},
    }


def set_params(dest: Path, updates: dict[str, Any]) -> None:
    """Merge `updates` into the copy's params.yaml (None removes a key)."""
    path = dest / "params.yaml"
    params = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(deep_update(params, updates), sort_keys=False))


def run_flow(dest: Path, stage: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m flows.<stage>` in the project copy (its code first on the path)."""
    return subprocess.run([sys.executable, "-m", f"flows.{stage}"], cwd=dest, env=env or project_env(dest),
                          capture_output=True, text=True, timeout=timeout)


def lock_stages(dest: Path) -> dict[str, Any]:
    path = dest / "dvc.lock"
    if not path.exists():
        return {}
    return (yaml.safe_load(path.read_text()) or {}).get("stages", {}) or {}


def partial_leftovers(root: Path) -> list[str]:
    """Paths under `root` that look like half-written artifacts (atomic-write temp names)."""
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if ".building-" in name or name.endswith(".tmp") or ".old-" in name:
                bad.append(str(Path(dirpath, name).relative_to(root)))
    return sorted(bad)


def snapshot(directory: Path) -> set[str]:
    """Names directly under a directory (to spot files a run writes where it should not)."""
    try:
        return set(os.listdir(directory))
    except OSError:
        return set()
