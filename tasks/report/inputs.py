"""Read what the stages left behind, tolerating anything missing or malformed.

The report runs after any subset of stages, so every reader returns None (plus a recorded problem
for a file that exists but cannot be read) instead of raising: one broken input blanks one section,
never the page.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


# metrics/<file>.json in pipeline order; `eval` is the evaluate stage's file name
STAGES = ("crawl", "filter", "redact", "order", "dedup", "quality", "tokenizer", "pack", "pretrain", "eval")
UNKNOWN = "unknown"
# stages whose metrics carry the language mix of the samples they wrote (`mix`)
SAMPLE_STAGES = ("order", "dedup", "quality")


@dataclass
class Inputs:
    """Everything the sections draw from; `problems` lists unreadable inputs (shown on the page)."""
    root: Path
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def m(self, stage: str) -> dict[str, Any] | None:
        return self.metrics.get(stage)


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def load_json(path: Path, root: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{_rel(root, path)}: unreadable ({type(exc).__name__})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{_rel(root, path)}: expected a JSON object, got {type(data).__name__}")
        return None
    return data


def load_inputs(root: Path, metrics_dir: str) -> Inputs:
    inputs = Inputs(root=root)
    for stage in STAGES:
        data = load_json(root / metrics_dir / f"{stage}.json", root, inputs.problems)
        if data is not None:
            inputs.metrics[stage] = data
    return inputs


def num(value: Any) -> float | None:
    """A finite number or None (metrics may hold null, strings or NaN where a value is unknown)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def read_series(path: Path, root: Path, problems: list[str]) -> list[tuple[float, float]] | None:
    """(step, value) pairs of one dvclive metric TSV (columns [timestamp,] step, <name>), by step."""
    if not path.exists():
        return None
    points: dict[float, float] = {}
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            value_col = next((c for c in reversed(reader.fieldnames or []) if c not in ("timestamp", "step")), None)
            if value_col is None or "step" not in (reader.fieldnames or []):
                problems.append(f"{_rel(root, path)}: no step/value columns")
                return None
            for row in reader:
                try:
                    step, value = float(row["step"]), float(row[value_col])
                except (TypeError, ValueError):
                    continue
                if math.isfinite(step) and math.isfinite(value):
                    points[step] = value  # a resumed run re-logs a step: the last value wins
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.append(f"{_rel(root, path)}: unreadable ({type(exc).__name__})")
        return None
    return sorted(points.items())


def read_clusters(path: Path, root: Path, problems: list[str], limit: int) -> tuple[list[dict[str, Any]], int] | None:
    """The first `limit` rows of data/dedup_clusters.parquet (written in cluster order, kept repo first)
    and the file's row count: the page shows the head of the table, however large the corpus."""
    if not path.exists():
        return None
    try:
        pf = pq.ParquetFile(path)
        total = pf.metadata.num_rows
        rows: list[dict[str, Any]] = []
        for batch in pf.iter_batches(batch_size=max(1, limit)):
            rows.extend(batch.to_pylist())
            if len(rows) >= limit:
                break
        rows = rows[:limit]
        rows.sort(key=lambda r: (int(r["cluster"]), not r["kept"], str(r["repo"])))
    except Exception as exc:  # any corrupt/foreign file: recorded, section says so
        problems.append(f"{_rel(root, path)}: unreadable ({type(exc).__name__}: {str(exc)[:120]})")
        return None
    return rows, total
