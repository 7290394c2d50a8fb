"""Synthetic stage metrics and a throwaway project directory for the calibration and drift tests."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GATED_STAGES = ("filter", "order", "dedup", "quality")


def stage_metrics(shares: dict[str, float] | None = None, pass_bytes: float = 0.42, pass_files: float = 0.55,
                  resolution: float = 0.31, dropped: float = 0.12, removed: float = 0.2) -> dict[str, dict[str, Any]]:
    """metrics/<stage>.json of a run, with the keys the stages write (and a few they write beside them)."""
    shares = shares if shares is not None else {"Go": 0.70, "Python": 0.28, "Shell": 0.02}
    return {
        "filter": {"pass_rate_bytes": pass_bytes, "pass_rate_files": pass_files, "bytes_in": 10_000,
                   "files_in": 100, "language_share_kept": dict(shares),
                   "by_language": {lang: {"bytes_kept": int(share * 4200)} for lang, share in shares.items()}},
        "order": {"resolution_rate": resolution, "samples": 12, "files_lost": 0},
        "dedup": {"dropped_share": dropped, "repos_in": 25},
        "quality": {"files": {"in": 100, "removed_share": removed}, "contamination": {"files": 0},
                    "samples": {"out": 9}},
    }


def write_metrics(root: Path, metrics: dict[str, dict[str, Any]], lock: bool = True) -> None:
    """metrics/*.json, and (lock) a dvc.lock recording them as a completed run would."""
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    stages = {}
    for stage, m in metrics.items():
        raw = json.dumps(m, indent=2, sort_keys=True).encode()
        (root / "metrics" / f"{stage}.json").write_bytes(raw)
        stages[stage] = {"cmd": f"python -m flows.{stage}", "outs": [
            {"path": f"metrics/{stage}.json", "hash": "md5", "md5": hashlib.md5(raw).hexdigest(), "size": len(raw)}]}
    if lock:
        (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))


def make_project(root: Path, metrics: dict[str, dict[str, Any]] | None = None) -> Path:
    """The project's own params.yaml (comments and all) and, optionally, the metrics of a run."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "params.yaml", root / "params.yaml")
    if metrics is not None:
        write_metrics(root, metrics)
    return root


def gate_block_lines(text: str) -> set[int]:
    """Indices of the lines of each gated stage's `gate:` block (naive: the project's own layout)."""
    lines = text.splitlines()
    inside: set[int] = set()
    for stage in GATED_STAGES:
        start = lines.index(next(line for line in lines if line.startswith(f"{stage}:")))
        at = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  gate:"))
        end = at + 1
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith("   ")):
            end += 1
        while not lines[end - 1].strip():
            end -= 1
        inside.update(range(at, end))
    return inside
