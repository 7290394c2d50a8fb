"""Tiny in-memory repos for the order tests (imported by the test modules of this folder)."""
from __future__ import annotations

from typing import Any

from tasks.order import Config, order_rows


def run(files: dict[str, str], lang: str | None = None, cfg: Config | None = None,
        repo: str = "local/t", langs: dict[str, str] | None = None) -> tuple[list[list[str]], dict[str, Any]]:
    """Order one repo given {path: content}; returns (files of each sample in order, stats)."""
    rows = [{"repo": repo, "source": "local", "path": p, "lang": (langs or {}).get(p, lang), "content": c}
            for p, c in files.items()]
    samples, stats = order_rows(rows, cfg or Config())
    return [s["files"] for s in samples], stats


def sample_of(samples: list[list[str]], path: str) -> list[str]:
    """The sample (ordered file list) that contains `path`."""
    found = [s for s in samples if path in s]
    assert len(found) == 1, f"{path} in {len(found)} samples"
    return found[0]


def lang_stats(stats: dict[str, Any], lang: str) -> dict[str, int]:
    return stats["languages"][lang]
