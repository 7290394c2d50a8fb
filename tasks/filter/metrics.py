"""Stage metrics (metrics/filter.json) from the per-shard stats, and the small tables the gate checks."""
from __future__ import annotations

from typing import Any

_DIGITS = 6  # rates and shares are rounded so metrics files diff cleanly


def _rate(part: int, whole: int) -> float:
    return round(part / whole, _DIGITS) if whole else 0.0


def aggregate(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum shard stats into the stage metrics (independent of shard order, except `seconds`)."""
    totals = {"files_in": 0, "bytes_in": 0, "files_kept": 0, "bytes_kept": 0}
    drops: dict[str, dict[str, int]] = {}
    by_lang: dict[str, dict[str, Any]] = {}
    seconds = 0.0
    license_dropped: dict[str, int] = {}
    for shard in stats:
        for lic, n in shard.get("license_dropped", {}).items():
            license_dropped[lic] = license_dropped.get(lic, 0) + int(n)
        for key in totals:
            totals[key] += int(shard[key])
        for reason, d in shard.get("drops", {}).items():
            acc = drops.setdefault(reason, {"files": 0, "bytes": 0})
            acc["files"] += int(d["files"])
            acc["bytes"] += int(d["bytes"])
        for lang, d in shard.get("by_language", {}).items():
            acc = by_lang.setdefault(lang, {"files_in": 0, "bytes_in": 0, "files_kept": 0, "bytes_kept": 0})
            for key in acc:
                acc[key] += int(d[key])
        seconds += float(shard.get("seconds", 0.0))
    for d in by_lang.values():
        d["pass_rate_bytes"] = _rate(d["bytes_kept"], d["bytes_in"])
    kept_bytes = totals["bytes_kept"]
    return {
        **totals,
        "shards": len(stats),
        "pass_rate_bytes": _rate(totals["bytes_kept"], totals["bytes_in"]),
        "pass_rate_files": _rate(totals["files_kept"], totals["files_in"]),
        "drops": dict(sorted(drops.items())),
        "license_policy": {"repos_dropped": sum(license_dropped.values()),
                           "by_license": dict(sorted(license_dropped.items(), key=lambda kv: (-kv[1], kv[0]))[:50])},
        "by_language": dict(sorted(by_lang.items())),
        "language_share_kept": {lang: _rate(d["bytes_kept"], kept_bytes)
                                for lang, d in sorted(by_lang.items()) if d["bytes_kept"] > 0},
        "seconds": round(seconds, 3),  # summed over shards (worker time), the one non-deterministic key
        "throughput_mb_s": round(totals["bytes_in"] / seconds / 1e6, 1) if seconds > 0 else 0.0,
    }


def pass_rate_table(metrics: dict[str, Any]):
    """One-row table (pass_rate_bytes, pass_rate_files, files_in, bytes_in) for the pass-rate gate."""
    import pandas as pd

    return pd.DataFrame([{key: metrics[key] for key in
                          ("pass_rate_bytes", "pass_rate_files", "files_in", "bytes_in")}])


def language_share_table(metrics: dict[str, Any]):
    """Table (lang, share, bytes_kept) of the kept bytes, one row per language with kept bytes."""
    import pandas as pd

    rows = [{"lang": lang, "share": share, "bytes_kept": metrics["by_language"][lang]["bytes_kept"]}
            for lang, share in sorted(metrics["language_share_kept"].items())]
    return pd.DataFrame(rows, columns=["lang", "share", "bytes_kept"])

