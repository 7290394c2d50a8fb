"""Sources that move, pinned: what a night's crawl actually read, recorded so it can be replayed.

A spec is pinned when it can only ever name one content: a registry package at an exact version, a git
commit sha, a local directory (keyed by a fingerprint of its files). Anything else moves: `version:
latest` on PyPI or npm, a git branch, tag, HEAD or `before` date. Each crawl resolves moving specs afresh
- the git mirror is fetched, the registry asked - into pinned ones, and writes the mapping (requested ->
resolved) to data/raw/snapshot.json, which DVC tracks with the rest of data/raw. Replaying a past night
is `crawl.snapshot: <that night's snapshot.json>`: the pinned specs are crawled as they are, so the
output is byte-identical; comparing two snapshots names what changed (`delta`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tasks.crawl.config import Config
from tasks.crawl.fetch import HttpClient, redact
from tasks.crawl.sources import git_resolve, npm_latest, pypi_latest, repo_id, spec_key

LATEST = "latest"
_SHA = re.compile(r"^[0-9a-f]{40}$")
SNAPSHOT_VERSION = 1


def is_pinned(spec: Any) -> bool:
    if not isinstance(spec, dict):
        return True  # invalid: nothing to resolve, the crawl job quarantines it
    kind = spec.get("type")
    if kind in ("pypi", "npm"):
        return str(spec.get("version")).lower() != LATEST
    if kind == "git":
        return bool(_SHA.match(str(spec.get("rev") or ""))) and not spec.get("before")
    return True


def resolve_spec(spec: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """The pinned spec a moving one names now (network: the registry, or a git fetch)."""
    kind = spec["type"]
    if kind == "pypi":
        return {**spec, "version": pypi_latest(spec["name"], HttpClient(cfg.fetch_policy()))}
    if kind == "npm":
        return {**spec, "version": npm_latest(spec["name"], HttpClient(cfg.fetch_policy()))}
    sha = git_resolve(spec["url"], spec.get("rev"), spec.get("before"), cfg.cache_dir, timeout=cfg.max_fetch_s,
                      blob_limit=cfg.git_blob_limit())
    pinned = {k: v for k, v in spec.items() if k != "before"}
    pinned["rev"] = sha
    pinned.setdefault("name", repo_id(spec).split("/", 1)[1].rsplit("@", 1)[0])  # the id keeps its name
    return pinned


def resolve_job(inputs: tuple[str, ...], outs: dict[str, str], spec: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """Job body: resolve one moving spec; an error is returned (the crawl quarantines the source), never raised."""
    try:
        return {"resolved": resolve_spec(spec, cfg), "error": None}
    except Exception as exc:  # a registry or a remote that does not answer must not stop the crawl
        return {"resolved": None, "error": redact(f"{type(exc).__name__}: {exc}")}


def snapshot_entries(requested: list[Any], resolved: list[Any]) -> list[dict[str, Any]]:
    """One entry per source: the spec as configured and the pinned spec crawled (None: not resolvable)."""
    return [{"requested": json.loads(redact(json.dumps(r, sort_keys=True, default=str))),
             "resolved": None if p is None else json.loads(redact(json.dumps(p, sort_keys=True, default=str)))}
            for r, p in zip(requested, resolved)]


def write_snapshot(path: str | Path, entries: list[dict[str, Any]]) -> None:
    from tasks.common.io import atomic_write_json

    ordered = sorted(entries, key=lambda e: spec_key(e["requested"]) if isinstance(e["requested"], dict) else "")
    atomic_write_json(path, {"version": SNAPSHOT_VERSION, "sources": ordered})


def read_snapshot(path: str | Path) -> list[dict[str, Any]]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION or not isinstance(data.get("sources"), list):
        raise ValueError(f"{path}: not a crawl snapshot (version {SNAPSHOT_VERSION})")
    return data["sources"]


def _name(spec: Any) -> str:
    try:
        return repo_id(spec).rsplit("@", 1)[0]
    except Exception:
        return json.dumps(spec, sort_keys=True, default=str)


def delta(previous: list[dict[str, Any]] | None, current: list[dict[str, Any]]) -> dict[str, Any]:
    """Sources added, removed and moved (same name, another version or commit) between two snapshots."""
    def index(entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {_name(e["requested"]): e["resolved"] for e in entries}

    if previous is None:
        return {"previous": False, "added": sorted(index(current)), "removed": [], "changed": []}
    old, new = index(previous), index(current)
    changed = [{"source": n, "from": _pin(old[n]), "to": _pin(new[n])} for n in sorted(set(old) & set(new))
               if old[n] != new[n]]
    return {"previous": True, "added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
            "changed": changed}


def _pin(spec: Any) -> str | None:
    if not isinstance(spec, dict):
        return None
    return str(spec.get("version") or spec.get("rev") or spec.get("path"))
