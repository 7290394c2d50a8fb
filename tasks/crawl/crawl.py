"""Crawl one source into raw rows, write the data/raw shards, and summarise the run.

`crawl_source` is the unit a flow fans out to worker processes: it takes a spec dict, the Config and
the cache directory, and returns a plain dict. A broken package never stops the run: any failure is
caught and returned as `error` (the package is quarantined: listed in quarantine.parquet, no rows).
"""
from __future__ import annotations

import email.parser
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from tasks.common.hashing import shard_of
from tasks.common.io import list_shards, shard_name, write_parquet
from tasks.crawl.config import Config
from tasks.crawl.content import decode
from tasks.crawl.extract import ArchiveFile, Rejection, iter_archive, iter_directory
from tasks.crawl.fetch import BlobCache, Digest, HttpClient, fetch_cached, redact
from tasks.crawl.languages import detect_language
from tasks.crawl.sources import (
    Artifact,
    git_snapshot,
    npm_artifact,
    pypi_artifact,
    repo_id,
    spec_key,
    validate_spec,
)

RAW_SCHEMA = pa.schema([
    ("repo", pa.string()),
    ("source", pa.string()),
    ("path", pa.string()),
    ("lang", pa.string()),
    ("size", pa.int64()),
    ("sha256", pa.string()),
    ("is_binary", pa.bool_()),
    ("content", pa.string()),
    ("skip_reason", pa.string()),
    ("stars", pa.int64()),
    ("created_at", pa.string()),
    ("license", pa.string()),
    ("version", pa.string()),
])
REJECTED_SCHEMA = pa.schema([("repo", pa.string()), ("member", pa.string()), ("reason", pa.string())])
QUARANTINE_SCHEMA = pa.schema([("repo", pa.string()), ("spec", pa.string()), ("error", pa.string())])
_RESOLVE_VERSION = 1  # bump to invalidate cached spec resolutions


def _resolve_cached(spec: dict[str, Any], client: HttpClient, cache: BlobCache) -> Artifact:
    """Registry lookup for a pypi/npm spec, remembered in the cache so a rerun asks nobody."""
    key = f"spec:v{_RESOLVE_VERSION}:" + spec_key({k: spec[k] for k in ("type", "name", "version")})
    entry = cache.lookup(key)
    if entry and entry.get("url"):
        digest = Digest(*entry["digest"]) if entry.get("digest") else None
        return Artifact(entry["url"], digest, entry.get("meta") or {})
    art = pypi_artifact(spec["name"], spec["version"], client) if spec["type"] == "pypi" else \
        npm_artifact(spec["name"], spec["version"], client)
    cache.record(key, {"url": art.url, "digest": list(art.digest) if art.digest else None, "meta": art.meta})
    return art


_LICENSE_CLASSIFIER = re.compile(r"^License :: (?:OSI Approved :: )?(.+)$")


def sdist_license(files: list[ArchiveFile]) -> str | None:
    """License from an sdist's PKG-INFO (License-Expression, short License, or a classifier)."""
    pkg = next((f for f in files if f.path == "PKG-INFO" and f.data), None)
    if pkg is None:
        return None
    msg = email.parser.Parser().parsestr(pkg.data.decode("utf-8", "replace"), headersonly=True)
    expr = (msg.get("License-Expression") or "").strip()
    if expr:
        return expr
    lic = (msg.get("License") or "").strip()
    if lic and lic.upper() != "UNKNOWN" and "\n" not in lic and len(lic) <= 80:
        return lic
    for classifier in msg.get_all("Classifier") or []:
        m = _LICENSE_CLASSIFIER.match(classifier.strip())
        if m:
            return m.group(1).strip()
    return None


def _rows(repo: str, source: str, files: list[ArchiveFile], meta: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for f in files:
        dec = decode(f.data, f.head)
        rows.append({
            "repo": repo, "source": source, "path": f.path, "lang": detect_language(f.path),
            "size": f.size, "sha256": f.sha256, "is_binary": dec.is_binary, "content": dec.content,
            "skip_reason": dec.skip_reason, "stars": meta.get("stars"), "created_at": meta.get("created_at"),
            "license": meta.get("license"), "version": meta.get("version"),
        })
    rows.sort(key=lambda r: r["path"])
    return rows


def _provisional_id(spec: Any) -> str:
    try:
        return repo_id(spec)
    except Exception:  # not even a valid spec
        return "invalid/" + json.dumps(spec, sort_keys=True, default=str)[:200]


def _printable(name: str) -> str:
    """Member names may hold undecodable bytes (as surrogates); Parquet strings must be valid UTF-8."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def crawl_source(spec: dict[str, Any], cfg: Config, cache_dir: str | None = None) -> dict[str, Any]:
    """Fetch, extract and decode one source. Returns {repo, source, spec, rows, rejected, error, stats}."""
    cache_dir = cache_dir or cfg.cache_dir
    rejected: list[Rejection] = []
    repo = _provisional_id(spec)
    stats = {"downloaded_bytes": 0, "cache_hit": False}
    result: dict[str, Any] = {"repo": repo, "source": spec.get("type") if isinstance(spec, dict) else None,
                              "spec": spec, "rows": [], "rejected": [], "error": None, "stats": stats}
    try:
        spec = validate_spec(spec, "source")
        result["spec"] = spec
        limits = cfg.limits()
        client = HttpClient(cfg.fetch_policy())
        cache = BlobCache(cache_dir)
        meta: dict[str, Any] = {}
        kind = spec["type"]
        if kind in ("pypi", "npm"):
            art = _resolve_cached(spec, client, cache)
            blob, stats["cache_hit"] = fetch_cached(client, cache, art.url, art.digest)
            files = list(iter_archive(blob, limits, rejected, strip_top=True))
            meta.update(art.meta)
            meta["version"] = spec["version"]
            if kind == "pypi" and "license" not in meta:
                lic = sdist_license(files)
                if lic:
                    meta["license"] = lic
        elif kind == "git":
            sha, tar, created = git_snapshot(spec["url"], spec.get("rev"), spec.get("before"), cache_dir,
                                             timeout=cfg.max_fetch_s)
            repo = result["repo"] = repo_id(spec, sha)
            files = list(iter_archive(tar, limits, rejected, strip_top=False))
            meta.update({"version": sha, "created_at": created})
        else:
            files = list(iter_directory(spec["path"], limits, rejected))
        stats["downloaded_bytes"] = client.downloaded_bytes
        for key in ("stars", "license", "created_at"):  # explicit spec metadata wins
            if spec.get(key) is not None:
                meta[key] = spec[key]
        meta.pop("filename", None)
        result["rows"] = _rows(repo, kind, files, meta)
        result["rejected"] = sorted(({"repo": repo, "member": _printable(r.member), "reason": r.reason} for r in rejected),
                                    key=lambda d: (d["member"], d["reason"]))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # quarantine: a broken package must not stop the crawl
        result.update(rows=[], rejected=[], error=redact(f"{type(exc).__name__}: {exc}"))
    return result


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def _dedupe(results: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Results in repo order, the first of any duplicated repo id kept; quarantine rows for the rest."""
    kept: dict[str, dict[str, Any]] = {}
    quarantine: list[dict[str, Any]] = []
    for res in results:
        spec_json = redact(json.dumps(res.get("spec"), sort_keys=True, default=str))  # URLs may carry user:password@
        if res.get("error"):
            quarantine.append({"repo": res["repo"], "spec": spec_json, "error": res["error"]})
        elif res["repo"] in kept:
            quarantine.append({"repo": res["repo"], "spec": spec_json, "error": "duplicate source of the same repo"})
        else:
            kept[res["repo"]] = res
    quarantine.sort(key=lambda q: (q["repo"], q["spec"], q["error"]))
    return [kept[k] for k in sorted(kept)], quarantine


def write_raw(results: list[dict[str, Any]], out_dir: str, n_shards: int) -> dict[str, Any]:
    """Write data/raw: part-XXXXX.parquet for every shard index (empty ones too), rejected.parquet and
    quarantine.parquet. Rows of a repo all land in shard_of(repo, n_shards), sorted by (repo, path).

    Each file is written atomically; wrap the call in tasks.common.io.atomic_dir to swap the whole
    directory at once.
    """
    if n_shards < 1:
        raise ValueError(f"n_shards must be >= 1, got {n_shards}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ok, quarantine = _dedupe(results)
    shards: list[list[dict[str, Any]]] = [[] for _ in range(n_shards)]
    rejected: list[dict[str, Any]] = []
    for res in ok:
        shards[shard_of(res["repo"], n_shards)].extend(res["rows"])
        rejected.extend(res["rejected"])
    wanted = {shard_name(i) for i in range(n_shards)}
    for stale in list_shards(out):
        if stale.name not in wanted:
            stale.unlink()
    for i, rows in enumerate(shards):
        rows.sort(key=lambda r: (r["repo"], r["path"]))
        write_parquet(_table(rows, RAW_SCHEMA), out / shard_name(i))
    rejected.sort(key=lambda r: (r["repo"], r["member"], r["reason"]))
    write_parquet(_table(rejected, REJECTED_SCHEMA), out / "rejected.parquet")
    write_parquet(_table(quarantine, QUARANTINE_SCHEMA), out / "quarantine.parquet")
    return {"shards": n_shards, "rows": sum(len(s) for s in shards), "rejected": len(rejected),
            "quarantined": len(quarantine)}


def aggregate(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The crawl metrics: counts by language/source/reason, failures, download volume."""
    ok, quarantine = _dedupe(results)
    by_lang: dict[str, dict[str, int]] = {}
    by_source: dict[str, dict[str, int]] = {}
    skipped: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    files = size = text_files = text_bytes = 0
    for res in ok:
        src = by_source.setdefault(res["source"], {"repos": 0, "files": 0, "bytes": 0})
        src["repos"] += 1
        for row in res["rows"]:
            files += 1
            size += row["size"]
            src["files"] += 1
            src["bytes"] += row["size"]
            lang = by_lang.setdefault(row["lang"] or "unknown", {"files": 0, "bytes": 0})
            lang["files"] += 1
            lang["bytes"] += row["size"]
            if row["content"] is not None:
                text_files += 1
                text_bytes += row["size"]
            else:
                skipped[row["skip_reason"]] += 1
        rejected.update(r["reason"] for r in res["rejected"])
    return {
        "repos": len(ok),
        "repos_failed": len(quarantine),
        "files": files,
        "bytes": size,
        "text_files": text_files,
        "text_bytes": text_bytes,
        "languages": sum(1 for k in by_lang if k != "unknown"),
        "by_language": dict(sorted(by_lang.items())),
        "by_source": dict(sorted(by_source.items())),
        "skipped": dict(sorted(skipped.items())),
        "rejected": dict(sorted(rejected.items())),
        "failures": [{"repo": q["repo"], "error": q["error"]} for q in quarantine],
        "downloaded_bytes": sum(r.get("stats", {}).get("downloaded_bytes", 0) for r in results),
        "cache_hits": sum(1 for r in results if r.get("stats", {}).get("cache_hit")),
    }


def load_sources(cfg: Config) -> list[dict[str, Any]]:
    """The specs to crawl: configured ones, plus GitHub discovery when enabled (needs the network)."""
    specs = list(cfg.sources)
    if cfg.github.enabled:
        from tasks.crawl.github import search_repositories
        specs.extend(search_repositories(cfg.github))
    return specs

