"""Turn per-shard counters into metrics/order.json."""
from __future__ import annotations

import math
from typing import Any, Iterable

from tasks.order.repo import SIZE_BINS_PER_OCTAVE, new_stats


def merge_stats(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Sum per-shard counters (numbers add, dicts merge recursively, lists concatenate)."""
    total: dict[str, Any] = {**new_stats(), "shards": 0, "seconds": 0.0,
                             "languages_with_grammar": [], "languages_regex_only": []}

    def add(into: dict[str, Any], part: dict[str, Any]) -> None:
        for key, value in part.items():
            if isinstance(value, dict):
                add(into.setdefault(key, {}), value)
            elif isinstance(value, list):
                into[key] = list(into.get(key, [])) + list(value)
            elif key.endswith("_max"):
                into[key] = max(into.get(key, 0), value)
            else:
                into[key] = into.get(key, 0) + value

    for part in parts:
        add(total, part)
    return total


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _bucket(n: int) -> str:
    """Power-of-two histogram bucket label: 1, 2, 3-4, 5-8, ..."""
    if n <= 2:
        return str(n)
    hi = 1 << (n - 1).bit_length()
    return f"{hi // 2 + 1}-{hi}"


def _quantiles(hist: dict[str, int], total: int, largest: int) -> dict[str, Any]:
    """Count, total, mean and max exactly; p50/p90/p99 as the nearest-rank bin's geometric middle (~9%)."""
    count = sum(hist.values())
    if not count:
        return {"count": 0, "total": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    bins = sorted((int(b), n) for b, n in hist.items())

    def q(p: float) -> int:
        rank, seen = max(1, math.ceil(p * count)), 0
        for b, n in bins:
            seen += n
            if seen >= rank:
                middle = 2 ** ((b + 0.5) / SIZE_BINS_PER_OCTAVE) - 1
                return min(largest, max(0, round(middle)))
        return largest

    return {"count": count, "total": total, "mean": round(total / count, 1),
            "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": largest}


def aggregate(stats: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Metrics dict for metrics/order.json from the stats of every shard."""
    s = merge_stats(stats)
    languages = {}
    for lang in sorted(s["languages"]):
        c = s["languages"][lang]
        languages[lang] = {**c, "resolution_rate": _rate(c["deps_resolved"], c["deps_found"])}
    found = sum(c["deps_found"] for c in s["languages"].values())
    resolved = sum(c["deps_resolved"] for c in s["languages"].values())
    histogram: dict[str, int] = {}
    for n, count in sorted(s["files_per_sample"].items(), key=lambda kv: int(kv[0])):
        label = _bucket(int(n))
        histogram[label] = histogram.get(label, 0) + count
    multi = sum(count for n, count in s["files_per_sample"].items() if int(n) > 1)
    files_in_multi = sum(int(n) * count for n, count in s["files_per_sample"].items() if int(n) > 1)
    return {
        "shards": s["shards"], "repos": s["repos"],
        "files": {"in": s["files_in"], "no_content": s["files_no_content"],
                  "duplicate_path": s["files_duplicate_path"], "code": s["files_code"],
                  "parsed": s["files_parsed"], "regex": s["files_regex"], "too_large": s["files_too_large"],
                  "syntax_errors": s["files_syntax_errors"]},
        "parse_failures": dict(sorted(s["parse_failures"].items())),
        "parse_failures_total": sum(s["parse_failures"].values()),
        "deps_found": found, "deps_resolved": resolved, "deps_external": found - resolved,
        "resolution_rate": _rate(resolved, found),
        "edges": s["edges"], "edges_against_order": s["edges_against_order"],
        "cycles_broken": s["cycles_broken"],
        "components_with_cycles": s["components_with_cycles"],
        "languages": languages,
        "samples": s["samples"], "samples_multi_file": multi, "files_in_multi_file_samples": files_in_multi,
        "samples_from_split": s["samples_from_split"],
        "files_per_sample_hist": dict(sorted(histogram.items(), key=lambda kv: int(kv[0].split("-")[0]))),
        "sample_bytes": _quantiles(s["sample_bytes_hist"], s["sample_bytes_total"], s["sample_bytes_max"]),
        "mix": dict(sorted(s.get("mix", {}).items())),
        "languages_with_grammar": sorted(set(s["languages_with_grammar"])),
        "languages_regex_only": sorted(set(s["languages_regex_only"])),
        "seconds": round(s["seconds"], 3),
    }
