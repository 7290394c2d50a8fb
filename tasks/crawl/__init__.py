"""Crawl stage: source specs (PyPI sdists, npm tarballs, git repos, local dirs) -> data/raw rows.

Public API (plain Python, no Prefect/DVC):
- config_from_params(section) -> Config            validate the `crawl` params section
- load_sources(cfg) -> list[dict]                    specs to crawl (+ GitHub discovery if enabled)
- crawl_source(spec, cfg, cache_dir) -> dict         one source, run in a worker; never raises
- write_raw(results, out_dir, n_shards) -> dict      data/raw shards + rejected/quarantine tables
- aggregate(results) -> dict                         metrics/crawl.json

Names are imported lazily so that `tasks.crawl.languages` (used by later stages) stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Config": "tasks.crawl.config", "config_from_params": "tasks.crawl.config",
    "RAW_SCHEMA": "tasks.crawl.crawl", "aggregate": "tasks.crawl.crawl", "crawl_source": "tasks.crawl.crawl",
    "load_sources": "tasks.crawl.crawl", "write_raw": "tasks.crawl.crawl",
    "SUPPORTED_LANGUAGES": "tasks.crawl.languages", "comment_syntax": "tasks.crawl.languages",
    "detect_language": "tasks.crawl.languages",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tasks.crawl' has no attribute {name!r}")
