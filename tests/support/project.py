"""A throwaway copy of this project (code, dvc.yaml, params.yaml) in a temp dir, for end-to-end
`dvc repro` runs on generated corpora without touching the real work tree."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COPY = ["flows", "tasks", "expectations", "infra", "assets", "dvc.yaml", "params.yaml", "pyproject.toml"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def deep_update(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """Merge `updates` into `base`; a None value removes the key."""
    for key, value in updates.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def make_project(dest: Path, params: dict[str, Any] | None = None, stages: list[str] | None = None) -> Path:
    """Copy the project to `dest`, override params, optionally keep only some dvc.yaml stages."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / name)
    merged = deep_update(yaml.safe_load((ROOT / "params.yaml").read_text()), params or {})
    (dest / "params.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    if stages is not None:
        dvc_yaml = yaml.safe_load((dest / "dvc.yaml").read_text())
        dvc_yaml["stages"] = {k: v for k, v in dvc_yaml["stages"].items() if k in stages}
        (dest / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    (dest / ".gitignore").write_text((ROOT / ".gitignore").read_text())
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=dest, check=True)
    # a first commit, as in a real clone (dvclive reads the baseline revision of the repo)
    git_env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True, env=git_env)
    subprocess.run(["git", "commit", "-q", "-m", "project copy"], cwd=dest, check=True, env=git_env)
    return dest


def project_env(dest: Path) -> dict[str, str]:
    """Environment for commands in the copy: its own code first on the path, this interpreter's bin first."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(dest)
    env["CODER_PIPELINE_PARAMS"] = str(dest / "params.yaml")
    return env


def dvc(dest: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
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
