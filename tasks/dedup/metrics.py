"""metrics/dedup.json: what the stage dropped and why, diffable across runs (DVC metrics).

Only aggregates and the largest drops: every cluster member is in data/dedup_clusters.parquet, so the
metrics stay the same size whatever the corpus.
"""
from __future__ import annotations

from typing import Any, Sequence

from tasks.common.mix import merge_mix
from tasks.dedup.config import Config


def _sum(items: Sequence[dict[str, Any]], key: str) -> int:
    return int(sum(int(s.get(key) or 0) for s in items))


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def aggregate(runs: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """Fold the per-job summaries of the dedup steps (tasks.dedup.stage.STEPS -> JobRun) into one dict."""
    def summaries(step: str) -> list[dict[str, Any]]:
        return runs[step].summaries if step in runs else []

    signature_stats, candidate_stats = summaries("signatures"), summaries("candidates")
    verify_stats, apply_stats = summaries("verify"), summaries("apply")
    cluster_stats = (summaries("components") or [{}])[0]
    repos_in = _sum(apply_stats, "repos_in")
    repos_out = _sum(apply_stats, "repos_out")
    bytes_in = _sum(apply_stats, "bytes_in")
    bytes_out = _sum(apply_stats, "bytes_out")
    files_in = _sum(apply_stats, "files_in")
    content_in = sum(int(v["bytes"]) for s in apply_stats for v in (s.get("mix_in") or {}).values())
    sig_seconds = sum(float(s.get("seconds") or 0.0) for s in signature_stats)
    sig_bytes = _sum(signature_stats, "bytes")
    bands, rows = cfg.lsh
    # the exact step's own counts: every copy it found, in the whole corpus (apply removes fewer where a
    # near-duplicate repository goes whole)
    exact_files, exact_bytes = _sum(summaries("groups"), "files_dropped"), _sum(summaries("groups"), "bytes_dropped")
    near_files, near_bytes = _sum(apply_stats, "near_files"), _sum(apply_stats, "near_bytes")
    metrics: dict[str, Any] = {
        "granularity": cfg.granularity,
        "repos_in": repos_in,
        "repos_kept": repos_out,
        "repos_dropped": repos_in - repos_out,
        "dropped_share": _share(repos_in - repos_out, repos_in),
        "rows_in": _sum(apply_stats, "rows_in"),
        "rows_kept": _sum(apply_stats, "rows_out"),
        "files_in": files_in,
        "files_kept": _sum(apply_stats, "files_out"),
        "bytes_in": bytes_in,
        "bytes_kept": bytes_out,
        "bytes_dropped": bytes_in - bytes_out,
        "dropped_bytes_share": _share(bytes_in - bytes_out, bytes_in),
        "exact": {"enabled": cfg.exact_enabled, "min_chars": cfg.exact_min_chars,
                  "files_hashed": _sum(summaries("hashes"), "hashed"), "files_short": _sum(summaries("hashes"), "short"),
                  "groups": _sum(summaries("groups"), "groups"), "files_dropped": exact_files,
                  "bytes_dropped": exact_bytes, "file_share": _share(exact_files, files_in),
                  "byte_share": _share(exact_bytes, content_in),
                  "files_removed": _sum(apply_stats, "exact_files"), "bytes_removed": _sum(apply_stats, "exact_bytes")},
        "near": {"granularity": cfg.granularity, "docs": _sum(signature_stats, "docs"),
                 "docs_dropped": cluster_stats.get("repos_dropped", 0),
                 "files_dropped": near_files, "bytes_dropped": near_bytes},
        "docs_empty": _sum(signature_stats, "empty"),
        "docs_error": _sum(signature_stats, "errors"),
        "repos_empty": _sum(signature_stats, "empty") if cfg.granularity == "repo" else None,
        "rows_without_repo": _sum(signature_stats, "rows_without_repo"),
        "clusters": cluster_stats.get("clusters", 0),
        "cluster_sizes": cluster_stats.get("cluster_sizes", {}),
        "docs_in_clusters": cluster_stats.get("repos_in_clusters", 0),
        "band_rows": _sum(signature_stats, "band_rows"),
        "buckets_shared": _sum(candidate_stats, "buckets_shared"),
        "buckets_capped": _sum(candidate_stats, "buckets_capped"),
        "pairs_from_capped": _sum(candidate_stats, "pairs_from_capped"),
        "candidate_pairs": _sum(verify_stats, "candidate_pairs"),
        "similar_pairs": _sum(verify_stats, "similar_pairs"),
        "pairs_verified_exact": _sum(verify_stats, "pairs_verified_exact"),
        "pairs_verified_estimate": _sum(verify_stats, "pairs_verified_estimate"),
        "pairs_pruned_by_estimate": _sum(verify_stats, "pairs_pruned_by_estimate"),
        "pairs_estimate_fallback": _sum(verify_stats, "pairs_estimate_fallback"),
        "lsh": {"bands": bands, "rows": rows, "max_bucket": cfg.max_bucket},
        "threshold": cfg.threshold,
        "verify": cfg.verify,
        "exact_max_bytes": cfg.exact_max_bytes,
        "dropped": cluster_stats.get("dropped_top", []),
        "mix": merge_mix(s.get("mix", {}) for s in apply_stats),
        "signature": {"bytes": sig_bytes, "shingles": _sum(signature_stats, "shingles"),
                      "seconds": round(sig_seconds, 3),
                      "mb_per_s_per_worker": round(sig_bytes / sig_seconds / 1e6, 3) if sig_seconds > 0 else None},
    }
    if cfg.granularity == "repo" and cluster_stats.get("repos_dropped", metrics["repos_dropped"]) != \
            metrics["repos_dropped"] and not exact_files:
        metrics["mismatch"] = "apply dropped a different number of repos than the clusters decided"
    lo, hi = cfg.gate_dropped_share
    metrics["gate"] = {"dropped_share": [lo, hi], "passed": lo <= metrics["dropped_share"] <= hi}
    return metrics
