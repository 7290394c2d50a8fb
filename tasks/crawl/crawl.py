"""Crawl one source into raw rows, write the data/raw shards, and summarise the run.

`crawl_source` is the unit a flow fans out to worker processes: it takes a spec dict, the Config and
the cache directory, and returns a plain dict. A broken package never stops the run: any failure is
caught and returned as `error` (the package is quarantined: listed in quarantine.parquet, no rows).
"""
from __future__ import annotations

import email.parser
import json
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from tasks.common.io import write_parquet
from tasks.common.partitions import PartWriter, concat_files
from tasks.crawl.config import Config
from tasks.crawl.content import decode
from tasks.crawl.extract import ArchiveFile, Rejection, iter_archive, iter_directory
from tasks.crawl.fetch import BlobCache, Digest, HttpClient, fetch_cached, redact
from tasks.crawl.gitread import Unread, read_commit
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
    """License from an sdist's PKG-INFO (License-Expression, short License, or its licence classifiers:
    several classifiers are the package's alternatives, joined with OR)."""
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
    names = []
    for classifier in msg.get_all("Classifier") or []:
        m = _LICENSE_CLASSIFIER.match(classifier.strip())
        if m and m.group(1).strip() not in names:
            names.append(m.group(1).strip())
    return " OR ".join(names) if names else None


def detect_license(rows: list[dict[str, Any]], declared: str | None) -> dict[str, Any]:
    """The repository's licence (tasks.governance): SPDX expression from its licence files and manifests,
    the registry's word as secondary evidence; every row then carries the expression in `license`."""
    from tasks.governance.license_policy import classify
    from tasks.governance.licenses import detect_repo_license

    found = detect_repo_license([(r["path"], r["content"]) for r in rows if r["content"] is not None], declared)
    spdx = found.spdx
    return {"spdx": spdx, "declared": declared, "confidence": found.confidence, "category": classify(spdx),
            "evidence": list(found.evidence)[:8]}


def _row(repo: str, source: str, path: str, meta: dict[str, Any], size: int | None, sha256: str | None,
         is_binary: bool | None, content: str | None, skip_reason: str | None) -> dict[str, Any]:
    return {"repo": repo, "source": source, "path": path, "lang": detect_language(path), "size": size,
            "sha256": sha256, "is_binary": is_binary, "content": content, "skip_reason": skip_reason,
            "stars": meta.get("stars"), "created_at": meta.get("created_at"), "license": meta.get("license"),
            "version": meta.get("version")}


def _rows(repo: str, source: str, files: list[ArchiveFile], meta: dict[str, Any],
          unread: Sequence[Unread] = ()) -> list[dict[str, Any]]:
    """One row per file; a file whose bytes were never read (`unread`) has size/sha256/is_binary null."""
    rows = []
    for f in files:
        dec = decode(f.data, f.head)
        rows.append(_row(repo, source, f.path, meta, f.size, f.sha256, dec.is_binary, dec.content, dec.skip_reason))
    rows.extend(_row(repo, source, u.path, meta, None, None, None, None, u.reason) for u in unread)
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
    unread: list[Unread] = []  # git files whose blob is absent (kept as rows without content)
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
            snap = git_snapshot(spec["url"], spec.get("rev"), spec.get("before"), cache_dir, timeout=cfg.max_fetch_s,
                                blob_limit=cfg.git_blob_limit())
            repo = result["repo"] = repo_id(spec, snap.sha)
            files, unread = read_commit(snap.repo, snap.sha, limits, rejected, timeout=cfg.max_fetch_s)
            meta.update({"version": snap.sha, "created_at": snap.created})
        else:
            files = list(iter_directory(spec["path"], limits, rejected))
        stats["downloaded_bytes"] = client.downloaded_bytes
        for key in ("stars", "license", "created_at"):  # explicit spec metadata wins
            if spec.get(key) is not None:
                meta[key] = spec[key]
        meta.pop("filename", None)
        result["rows"] = _rows(repo, kind, files, meta, unread)
        result["license"] = detect_license(result["rows"], meta.get("license"))
        for row in result["rows"]:
            row["license"] = result["license"]["spdx"]
        result["rejected"] = sorted(({"repo": repo, "member": _printable(r.member), "reason": r.reason} for r in rejected),
                                    key=lambda d: (d["member"], d["reason"]))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # quarantine: a broken package must not stop the crawl
        result.update(rows=[], rejected=[], error=redact(f"{type(exc).__name__}: {exc}"))
    return result


TRUNCATING = ("too_many_members", "bomb")  # rejections after which an archive was read no further


def truncation(rejected: list[dict[str, Any]]) -> str | None:
    """Why the archive was cut short (its first cap hit), or None when it was read whole."""
    return next((r["reason"] for r in rejected if r["reason"] in TRUNCATING), None)


def summarise_source(res: dict[str, Any]) -> dict[str, Any]:
    """The small record of one crawled source the flow keeps (no contents): counts by language and reason."""
    by_lang: dict[str, dict[str, int]] = {}
    skipped: Counter[str] = Counter()
    files = size = text_files = text_bytes = 0
    for row in res["rows"]:
        files += 1
        row_size = row["size"] or 0  # null: a blob never read (missing, or left out by a partial clone)
        size += row_size
        lang = by_lang.setdefault(row["lang"] or "unknown", {"files": 0, "bytes": 0})
        lang["files"] += 1
        lang["bytes"] += row_size
        if row["content"] is not None:
            text_files += 1
            text_bytes += row_size
        else:
            skipped[row["skip_reason"]] += 1
    return {
        "repo": res["repo"], "source": res["source"], "error": res["error"],
        "spec": redact(json.dumps(res.get("spec"), sort_keys=True, default=str)),  # URLs may carry user:password@
        "files": files, "bytes": size, "text_files": text_files, "text_bytes": text_bytes,
        "by_language": dict(sorted(by_lang.items())), "skipped": dict(sorted(skipped.items())),
        "rejected": dict(sorted(Counter(r["reason"] for r in res["rejected"]).items())),
        "truncated": res.get("truncated"),
        "license": res.get("license"),
        "stats": res.get("stats", {}),
    }


def crawl_source_files(inputs: tuple[str, ...], outs: dict[str, str], spec: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """Job body: crawl one source into `rows` (RAW_SCHEMA, by path) and `rejected` files; its summary back."""
    res = crawl_source(spec, cfg)
    cut = truncation(res["rejected"])
    if cut and not res["error"]:
        res["truncated"] = {"reason": cut, "files_read": len(res["rows"]),
                            "bytes_read": sum(r["size"] or 0 for r in res["rows"])}
        if cfg.on_truncated == "drop":
            res["error"] = (f"truncated: {cut} after {len(res['rows'])} files, {res['truncated']['bytes_read']} bytes "
                            "(crawl.on_truncated: drop)")
    if res["error"]:
        res["rows"], res["rejected"] = [], []
    write_parquet(pa.Table.from_pylist(res["rows"], schema=RAW_SCHEMA), outs["rows"])
    write_parquet(pa.Table.from_pylist(res["rejected"], schema=REJECTED_SCHEMA), outs["rejected"])
    return summarise_source(res)


def dedupe(summaries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Sources in repo order, the first of a duplicated repo id kept; quarantine rows for the failed and the rest."""
    kept: dict[str, dict[str, Any]] = {}
    quarantine: list[dict[str, Any]] = []
    for res in summaries:
        if res.get("error"):
            quarantine.append({"repo": res["repo"], "spec": res["spec"], "error": res["error"]})
        elif res["repo"] in kept:
            quarantine.append({"repo": res["repo"], "spec": res["spec"], "error": "duplicate source of the same repo"})
        else:
            kept[res["repo"]] = res
    quarantine.sort(key=lambda q: (q["repo"], q["spec"], q["error"]))
    return [kept[k] for k in sorted(kept)], quarantine


def write_partition(inputs: tuple[str, ...], outs: dict[str, str]) -> dict[str, Any]:
    """Job body: the rows files of a partition's repositories (in repo order) as one data/raw partition."""
    with PartWriter(outs["part"], RAW_SCHEMA) as out:
        rows = concat_files(inputs, out)
    return {"rows": rows, "repos": len(inputs)}


def write_rejected(inputs: tuple[str, ...], outs: dict[str, str]) -> dict[str, Any]:
    """Job body: every kept repository's rejected members as data/raw/rejected.parquet (repo, member order)."""
    with PartWriter(outs["rejected"], REJECTED_SCHEMA) as out:
        rows = concat_files(inputs, out)
    return {"rows": rows}


def write_raw_job(inputs: tuple[str, ...], outs: dict[str, str]) -> dict[str, Any]:
    """Job body of the crawl's second phase: a data/raw partition, or the rejected-members table."""
    return write_rejected(inputs, outs) if "rejected" in outs else write_partition(inputs, outs)


def write_quarantine(quarantine: list[dict[str, Any]], path: str | os.PathLike) -> None:
    write_parquet(pa.Table.from_pylist(quarantine, schema=QUARANTINE_SCHEMA), path)


def aggregate(summaries: list[dict[str, Any]], top: int = 50) -> dict[str, Any]:
    """The crawl metrics from the sources' summaries: counts by language/source/reason, failures, truncations."""
    ok, quarantine = dedupe(summaries)
    by_lang: dict[str, dict[str, int]] = {}
    by_source: dict[str, dict[str, int]] = {}
    skipped: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    truncated = []
    for res in ok:
        src = by_source.setdefault(res["source"], {"repos": 0, "files": 0, "bytes": 0})
        src["repos"] += 1
        src["files"] += res["files"]
        src["bytes"] += res["bytes"]
        for key in ("files", "bytes", "text_files", "text_bytes"):
            totals[key] += res[key]
        for lang, v in res["by_language"].items():
            slot = by_lang.setdefault(lang, {"files": 0, "bytes": 0})
            slot["files"] += v["files"]
            slot["bytes"] += v["bytes"]
        skipped.update(res["skipped"])
        rejected.update(res["rejected"])
        if res.get("truncated"):
            truncated.append({"repo": res["repo"], **res["truncated"]})
    truncated_dropped = [q for q in quarantine if q["error"].startswith("truncated:")]
    opted_out = [q for q in quarantine if q["error"].startswith("opt_out:")]
    return {
        "repos": len(ok),
        "repos_failed": len(quarantine),
        "files": totals["files"],
        "bytes": totals["bytes"],
        "text_files": totals["text_files"],
        "text_bytes": totals["text_bytes"],
        "languages": sum(1 for k in by_lang if k != "unknown"),
        "by_language": dict(sorted(by_lang.items())),
        "by_source": dict(sorted(by_source.items())),
        "skipped": dict(sorted(skipped.items())),
        "rejected": dict(sorted(rejected.items())),
        "truncated": {"kept": len(truncated), "dropped": len(truncated_dropped),
                      "repos": sorted(truncated, key=lambda t: t["repo"])[:top]},
        "opted_out": len(opted_out),
        "licenses": license_metrics(ok, top),
        "failures": [{"repo": q["repo"], "error": q["error"]} for q in quarantine[:top]],
        "downloaded_bytes": sum(r.get("stats", {}).get("downloaded_bytes", 0) for r in summaries),
        "cache_hits": sum(1 for r in summaries if r.get("stats", {}).get("cache_hit")),
    }


def license_metrics(kept: list[dict[str, Any]], top: int = 50) -> dict[str, Any]:
    """Licence distribution (The Stack's categories, SPDX expressions) and agreement of the detection with
    the registry-declared licence: `same` = the same licences, `covers` = the files name every licence
    the registry declares (and maybe more, e.g. lodash's CC0 for its docs)."""
    from tasks.governance.licenses import names_a_license, names_all_of, normalize_expression, same_license

    categories: Counter[str] = Counter()
    expressions: Counter[str] = Counter()
    declared = same = covers = 0
    differ = []
    for s in kept:
        lic = s.get("license") or {}
        categories[lic.get("category") or "no_license"] += 1
        expressions[lic.get("spdx") or "(none)"] += 1
        want = normalize_expression(lic.get("declared"))
        if not names_a_license(want) or not lic.get("spdx"):  # nothing comparable declared (or found)
            continue
        declared += 1
        same += same_license(lic["spdx"], want)
        ok = names_all_of(lic["spdx"], want)
        covers += ok
        if not same_license(lic["spdx"], want):
            differ.append({"repo": s["repo"], "declared": lic.get("declared"), "detected": lic["spdx"], "covers": ok})
    return {
        "by_category": dict(sorted(categories.items())),
        "by_expression": dict(sorted(expressions.most_common(top))),
        "declared_and_detected": declared,
        "agreement_same": round(same / declared, 4) if declared else None,
        "agreement_covers": round(covers / declared, 4) if declared else None,
        "differences": sorted(differ, key=lambda d: d["repo"])[:top],
    }


def load_sources(cfg: Config) -> list[dict[str, Any]]:
    """The specs to crawl: configured ones, plus GitHub discovery when enabled (needs the network)."""
    specs = list(cfg.sources)
    if cfg.github.enabled:
        from tasks.crawl.github import search_repositories
        specs.extend(search_repositories(cfg.github))
    return specs
