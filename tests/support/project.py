"""A throwaway copy of this project (code, dvc.yaml, params.yaml) in a temp dir, for end-to-end
`dvc repro` runs on generated corpora without touching the real work tree. The copying itself is
the reproducibility audit's (flows/audit.py), so tests and `make audit` build projects the same way."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from flows.audit import ROOT, copy_env, deep_update, make_copy

__all__ = ["deep_update", "dvc", "lock_hashes", "make_project", "project_env"]


def make_project(dest: Path, params: dict[str, Any] | None = None, stages: list[str] | None = None) -> Path:
    """Copy the project to `dest` with params.yaml overridden (None removes a key), optionally only some stages."""
    merged = deep_update(yaml.safe_load((ROOT / "params.yaml").read_text()), params or {})
    return make_copy(dest, merged, stages)


def project_env(dest: Path) -> dict[str, str]:
    return copy_env(dest)


def dvc(dest: Path, *args: str, check: bool = True, timeout: float = 1500) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=dest, env=project_env(dest),
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}")
    return proc


def lock_hashes(dest: Path) -> dict[str, dict[str, str]]:
    """stage -> {path: md5} of every output in dvc.lock."""
    lock = yaml.safe_load((dest / "dvc.lock").read_text())
    return {name: {o["path"]: o.get("md5", "") for o in stage.get("outs", [])}
            for name, stage in lock.get("stages", {}).items()}
