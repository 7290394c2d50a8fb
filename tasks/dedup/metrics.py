"""metrics/dedup.json: what the stage dropped and why, diffable across runs (DVC metrics)."""
from __future__ import annotations

from typing import Any, Sequence

from tasks.dedup.config import Config


def _sum(items: Sequence[dict[str, Any]], key: str) -> int:
    return int(sum(int(s.get(key) or 0) for s in items))


def aggregate(signature_stats: Sequence[dict[str, Any]], cluster_stats: dict[str, Any],
              apply_stats: Sequence[dict[str, Any]], cfg: Config | None = None) -> dict[str, Any]:
    """Fold the per-shard stats of signatures_shard / apply_shard and cluster()'s stats into one dict."""
    repos_in = _sum(apply_stats, "repos_in")
    repos_out = _sum(apply_stats, "repos_out")
    bytes_in = _sum(apply_stats, "bytes_in")
    bytes_out = _sum(apply_stats, "bytes_out")
    sig_seconds = sum(float(s.get("seconds") or 0.0) for s in signature_stats)
    sig_bytes = _sum(signature_stats, "bytes")
    metrics: dict[str, Any] = {
        "repos_in": repos_in,
        "repos_kept": repos_out,
        "repos_dropped": repos_in - repos_out,
        "dropped_share": round((repos_in - repos_out) / repos_in, 6) if repos_in else 0.0,
        "rows_in": _sum(apply_stats, "rows_in"),
        "rows_kept": _sum(apply_stats, "rows_out"),
        "bytes_in": bytes_in,
        "bytes_kept": bytes_out,
        "bytes_dropped": bytes_in - bytes_out,
        "dropped_bytes_share": round((bytes_in - bytes_out) / bytes_in, 6) if bytes_in else 0.0,
        "repos_empty": _sum(signature_stats, "empty"),
        "repos_error": _sum(signature_stats, "errors"),
        "rows_without_repo": _sum(signature_stats, "rows_without_repo"),
        "clusters": cluster_stats.get("clusters", 0),
        "cluster_sizes": cluster_stats.get("cluster_sizes", {}),
        "repos_in_clusters": cluster_stats.get("repos_in_clusters", 0),
        "candidate_pairs": cluster_stats.get("candidate_pairs", 0),
        "similar_pairs": cluster_stats.get("similar_pairs", 0),
        "pairs_verified_exact": cluster_stats.get("pairs_verified_exact", 0),
        "pairs_pruned_by_estimate": cluster_stats.get("pairs_pruned_by_estimate", 0),
        "pairs_estimate_fallback": cluster_stats.get("pairs_estimate_fallback", 0),
        "duplicate_repo_ids": cluster_stats.get("duplicate_repo_ids", []),
        "lsh": cluster_stats.get("lsh", {}),
        "threshold": cluster_stats.get("threshold"),
        "verify": cluster_stats.get("verify"),
        "dropped": cluster_stats.get("dropped", []),
        "signature": {"bytes": sig_bytes, "shingles": _sum(signature_stats, "shingles"),
                      "seconds": round(sig_seconds, 3),
                      "mb_per_s_per_worker": round(sig_bytes / sig_seconds / 1e6, 3) if sig_seconds > 0 else None},
        "cluster_seconds": cluster_stats.get("seconds", {}),
    }
    if cluster_stats.get("repos_dropped", metrics["repos_dropped"]) != metrics["repos_dropped"]:
        metrics["mismatch"] = "apply_shard dropped a different number of repos than cluster() decided"
    if cfg is not None:
        lo, hi = cfg.gate_dropped_share
        metrics["gate"] = {"dropped_share": [lo, hi], "passed": lo <= metrics["dropped_share"] <= hi}
    return metrics
