"""The report's tables, computed once: the page draws them and `write_tables` saves them as CSV under
reports/plots/ for `dvc plots` (x/y fields name CSV columns), so the page and DVC show the same numbers.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tasks.common.io import atomic_write_text
from tasks.report.inputs import SAMPLE_STAGES, UNKNOWN, Inputs, dig, num

FUNNEL_STAGES = ("crawl", "filter", "order", "dedup", "quality", "pack")
MIX_STAGES = ("crawl", "filter", "order", "dedup", "quality")
_UNKNOWN_ALIASES = {None, "", "(unknown)", "unknown", "null", "None"}


def _lang(name: Any) -> str:
    return UNKNOWN if name in _UNKNOWN_ALIASES else str(name)


def _int(value: Any) -> int | None:
    v = num(value)
    return None if v is None else int(v)


def language_mix(inputs: Inputs) -> list[dict[str, Any]]:
    """Bytes and files per language after each stage, from the stages' metrics (never from their data)."""
    per_stage: dict[str, dict[str, dict[str, int]]] = {}
    crawl = dig(inputs.m("crawl"), "by_language")
    if isinstance(crawl, dict):
        per_stage["crawl"] = {}
        for lang, v in crawl.items():
            if isinstance(v, dict):
                slot = per_stage["crawl"].setdefault(_lang(lang), {"bytes": 0, "files": 0})
                slot["bytes"] += _int(v.get("bytes")) or 0
                slot["files"] += _int(v.get("files")) or 0
    filt = dig(inputs.m("filter"), "by_language")
    if isinstance(filt, dict):
        per_stage["filter"] = {}
        for lang, v in filt.items():
            if isinstance(v, dict) and (_int(v.get("bytes_kept")) or _int(v.get("files_kept"))):
                slot = per_stage["filter"].setdefault(_lang(lang), {"bytes": 0, "files": 0})
                slot["bytes"] += _int(v.get("bytes_kept")) or 0
                slot["files"] += _int(v.get("files_kept")) or 0
    for stage in SAMPLE_STAGES:
        found = dig(inputs.m(stage), "mix")
        if isinstance(found, dict) and found:
            per_stage[stage] = {}
            for lang, v in found.items():
                if isinstance(v, dict):
                    slot = per_stage[stage].setdefault(_lang(lang), {"bytes": 0, "files": 0})
                    slot["bytes"] += _int(v.get("bytes")) or 0
                    slot["files"] += _int(v.get("files")) or 0
    rows = []
    for stage in MIX_STAGES:
        langs = per_stage.get(stage)
        if not langs:
            continue
        total = sum(v["bytes"] for v in langs.values()) or 1
        for lang in sorted(langs):
            v = langs[lang]
            rows.append({"stage": stage, "lang": lang, "bytes": v["bytes"], "files": v["files"],
                         "share": round(v["bytes"] / total, 6)})
    return rows


def funnel(inputs: Inputs, mix: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Repos, samples, files, bytes (and tokens for pack) left after each stage that has run."""
    files_from_data = {}
    for r in mix:
        files_from_data[r["stage"]] = files_from_data.get(r["stage"], 0) + r["files"]
    rows: list[dict[str, Any]] = []
    m = inputs.m
    if m("crawl"):
        c = m("crawl")
        rows.append({"stage": "crawl", "repos": _int(c.get("repos")), "samples": None,
                     "files": _int(c.get("files")), "bytes": _int(c.get("bytes")), "tokens": None})
    if m("filter"):
        f = m("filter")
        rows.append({"stage": "filter", "repos": None, "samples": None,
                     "files": _int(f.get("files_kept")), "bytes": _int(f.get("bytes_kept")), "tokens": None})
    if m("order"):
        o = m("order")
        files_in, lost = _int(dig(o, "files", "in")), _int(o.get("files_lost")) or 0
        rows.append({"stage": "order", "repos": _int(o.get("repos")), "samples": _int(o.get("samples")),
                     "files": files_from_data.get("order", None if files_in is None else files_in - lost),
                     "bytes": _int(dig(o, "sample_bytes", "total")), "tokens": None})
    if m("dedup"):
        d = m("dedup")
        rows.append({"stage": "dedup", "repos": _int(d.get("repos_kept")), "samples": _int(d.get("rows_kept")),
                     "files": files_from_data.get("dedup"), "bytes": _int(d.get("bytes_kept")), "tokens": None})
    if m("quality"):
        q = m("quality")
        rows.append({"stage": "quality", "repos": None, "samples": _int(dig(q, "samples", "out")),
                     "files": _int(dig(q, "files", "out")), "bytes": _int(dig(q, "bytes", "out")), "tokens": None})
    if m("pack"):
        p = m("pack")
        splits = p.get("splits") if isinstance(p.get("splits"), dict) else {}
        tokens = [_int(dig(s, "tokens")) for s in splits.values()]
        rows.append({"stage": "pack", "repos": None, "samples": _int(dig(p, "input", "docs")), "files": None,
                     "bytes": _int(dig(p, "input", "bytes")),
                     "tokens": sum(t for t in tokens if t is not None) if any(t is not None for t in tokens) else None})
    return rows


def filter_pass_rates(inputs: Inputs) -> list[dict[str, Any]]:
    by_lang = dig(inputs.m("filter"), "by_language")
    if not isinstance(by_lang, dict):
        return []
    rows = []
    for lang, v in sorted(by_lang.items(), key=lambda kv: _lang(kv[0])):
        if not isinstance(v, dict):
            continue
        fi, fk = _int(v.get("files_in")) or 0, _int(v.get("files_kept")) or 0
        bi, bk = _int(v.get("bytes_in")) or 0, _int(v.get("bytes_kept")) or 0
        rows.append({"lang": _lang(lang), "files_in": fi, "files_kept": fk, "bytes_in": bi, "bytes_kept": bk,
                     "pass_rate_bytes": round(bk / bi, 6) if bi else 0.0,
                     "pass_rate_files": round(fk / fi, 6) if fi else 0.0})
    return rows


def drop_reasons(inputs: Inputs) -> list[dict[str, Any]]:
    """Filter drops and quality removals, one row per (stage, reason), biggest first within a stage."""
    rows = []
    for stage, key in (("filter", "drops"), ("quality", "removed")):
        reasons = dig(inputs.m(stage), key)
        if not isinstance(reasons, dict):
            continue
        stage_rows = [{"stage": stage, "reason": str(r), "files": _int(dig(v, "files")) or 0,
                       "bytes": _int(dig(v, "bytes")) or 0} for r, v in reasons.items() if isinstance(v, dict)]
        rows += sorted(stage_rows, key=lambda r: (-r["bytes"], -r["files"], r["reason"]))
    return rows


def cluster_sizes(inputs: Inputs) -> list[dict[str, Any]]:
    """Histogram: how many dedup clusters have each number of repositories (metrics/dedup.json)."""
    hist: dict[int, int] = {}
    for size, count in (dig(inputs.m("dedup"), "cluster_sizes") or {}).items():
        if str(size).isdigit() and _int(count) is not None:
            hist[int(size)] = _int(count)  # type: ignore[assignment]
    return [{"cluster_size": k, "clusters": hist[k]} for k in sorted(hist)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


COLUMNS = {
    "funnel": ["stage", "repos", "samples", "files", "bytes", "tokens"],
    "language_mix": ["stage", "lang", "bytes", "files", "share"],
    "filter_pass_rate": ["lang", "files_in", "files_kept", "bytes_in", "bytes_kept", "pass_rate_bytes",
                         "pass_rate_files"],
    "drop_reasons": ["stage", "reason", "files", "bytes"],
    "dedup_cluster_sizes": ["cluster_size", "clusters"],
}


def write_tables(plots_dir: Path, tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One CSV per table (header only when a stage has not run, so dvc.yaml plots never miss a file)."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(COLUMNS):
        path = plots_dir / f"{name}.csv"
        atomic_write_text(path, to_csv(tables.get(name, []), COLUMNS[name]))
        written.append(path.name)
    return written
