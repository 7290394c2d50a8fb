"""The per-shard entry point and the metrics aggregation of the quality stage.

`quality_shard` reads one data/deduped shard, screens every file of every repo-level sample,
removes bad files (keeping the others in their dependency order and re-rendering `text` with
`tasks.order.render.render_sample`), drops samples left without files, and writes the clean shard
(same schema, same row order) plus one decisions row per removed file. It returns plain counts;
`aggregate` sums them into metrics/quality.json, `contamination_rows` gives the per-repo hits table.
Sample numbers are kept as they were, so a decision row still points at its input sample.
"""
from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.common.mix import add_mix, language_mix, merge_mix
from tasks.common.partitions import PartWriter, iter_batches
from tasks.quality.config import Config
from tasks.quality.decontam import build_benchmark_index, load_index
from tasks.quality.scorer import load_scorer
from tasks.quality.screen import REASONS, ScreenContext, screen_file

DECISIONS_SCHEMA = pa.schema([
    ("repo", pa.string()),
    ("sample", pa.int32()),
    ("path", pa.string()),
    ("lang", pa.string()),
    ("size", pa.int64()),
    ("reason", pa.string()),
    ("detail", pa.string()),
])

_SCORERS: dict[str, Any] = {}
BATCH_SAMPLES = 256  # samples screened per batch: memory is one batch (and one bounded row group)


def _render_sample(files: list[str], langs: list[str], contents: list[str]) -> str:
    """Imported lazily: the order stage owns the rendering, quality only re-applies it."""
    from tasks.order.render import render_sample

    return render_sample(files, langs, contents)


def _load_scorer(path: str):
    key = str(Path(path).resolve())
    if key not in _SCORERS:
        _SCORERS[key] = load_scorer(path)
    return _SCORERS[key]


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def quality_shard(in_path: str | os.PathLike, out_path: str | os.PathLike, decisions_path: str | os.PathLike,
                  cfg: Config, index_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Screen one shard; write the clean shard and the decisions shard; return its stats.

    `index_path` is what `build_benchmark_index` returned (the flow builds it once); when it is
    None and decontamination is on, the index is built or found in `decontam.cache_dir`.
    """
    started = time.perf_counter()
    schema = pq.read_schema(in_path)
    index = None
    if cfg.decontam.enabled:
        index = load_index(index_path or build_benchmark_index(cfg, cfg.decontam.cache_dir))
    ctx = ScreenContext(cfg, index, _load_scorer(cfg.scorer.model_path) if cfg.scorer.enabled else None)
    ctx.seconds["read"] += time.perf_counter() - started

    removed = {reason: {"files": 0, "bytes": 0} for reason in REASONS}
    benches = index.benchmarks if index is not None else []
    contamination = {b: {"files": 0, "bytes": 0, "grams": 0} for b in benches}
    per_repo: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"files": 0, "bytes": 0, "grams": 0})
    counts: Counter[str] = Counter()
    mix: dict[str, Any] = {}
    with PartWriter(out_path, schema) as out, PartWriter(decisions_path, DECISIONS_SCHEMA) as decisions_out:
        for batch in iter_batches(in_path, batch_rows=BATCH_SAMPLES):
            t = time.perf_counter()
            rows = batch.to_pylist()
            ctx.seconds["read"] += time.perf_counter() - t
            out_rows, decisions = _screen_rows(rows, ctx, cfg, index, removed, contamination, per_repo, counts)
            t = time.perf_counter()
            if out_rows:
                table = pa.Table.from_pylist(out_rows, schema=schema)
                add_mix(mix, language_mix(table))
                out.write(table)
            decisions.sort(key=lambda d: (d["repo"] or "", d["sample"] if d["sample"] is not None else -1, d["path"] or ""))
            decisions_out.write(pa.Table.from_pylist(decisions, schema=DECISIONS_SCHEMA))
            ctx.seconds["write"] += time.perf_counter() - t
    ctx.seconds["total"] += time.perf_counter() - started

    stats: dict[str, Any] = {k: int(counts[k]) for k in (
        "samples_in", "samples_out", "samples_dropped", "samples_changed",
        "files_in", "files_out", "bytes_in", "bytes_out", "near_miss_files")}
    stats.update(
        shard=Path(in_path).name,
        removed=removed,
        contamination=contamination,
        contaminated_repos=[{"repo": repo, "benchmark": bench, **v} for (repo, bench), v in sorted(per_repo.items())],
        parsed_files=dict(sorted(ctx.parsed.items())),
        check_errors=dict(sorted(ctx.check_errors.items())),
        mix=dict(sorted(mix.items())),
        seconds={k: round(v, 3) for k, v in sorted(ctx.seconds.items())},
    )
    return stats


def quality_partition(inputs: tuple[str, ...], outs: dict[str, str], cfg: Config, index_path: str | None) -> dict[str, Any]:
    """Job body: one data/deduped partition -> its data/clean partition and its decisions."""
    return quality_shard(inputs[0], outs["out"], outs["decisions"], cfg, index_path=index_path)


def _screen_rows(rows: list[dict[str, Any]], ctx: ScreenContext, cfg: Config, index: Any,
                 removed: dict[str, dict[str, int]], contamination: dict[str, dict[str, int]],
                 per_repo: dict[tuple[str, str], dict[str, int]],
                 counts: Counter[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Screen one batch of samples: the rows to keep (re-rendered where files went) and the decisions."""
    # contamination for every file of the batch in a few vectorised scans
    t = time.perf_counter()
    refs: list[tuple[int, int]] = []
    texts: list[str] = []
    for r, row in enumerate(rows):
        for f, content in enumerate(row.get("contents") or []):
            if isinstance(content, str):
                refs.append((r, f))
                texts.append(content)
    hits_of: dict[tuple[int, int], Any] = {}
    if index is not None:
        for ref, hits in zip(refs, index.scan(texts, cfg.decontam.batch_bytes)):
            if hits is not None:
                hits_of[ref] = hits
    ctx.seconds["decontam"] += time.perf_counter() - t

    decisions: list[dict[str, Any]] = []
    out_rows: list[dict[str, Any]] = []
    for r, row in enumerate(rows):
        repo, sample = row.get("repo"), row.get("sample")
        files, langs, contents = row.get("files") or [], row.get("langs") or [], row.get("contents") or []
        counts["samples_in"] += 1
        counts["files_in"] += len(files)
        if not (len(files) == len(langs) == len(contents)):
            detail = f"files/langs/contents lengths {len(files)}/{len(langs)}/{len(contents)} differ"
            for path in files or [""]:
                decisions.append({"repo": repo, "sample": sample, "path": path, "lang": None, "size": 0,
                                  "reason": "bad_sample", "detail": detail})
            removed["bad_sample"]["files"] += len(files)
            counts["samples_dropped"] += 1
            continue
        kept: list[int] = []
        for f, (path, lang, content) in enumerate(zip(files, langs, contents)):
            size = _utf8_len(content) if isinstance(content, str) else 0
            counts["bytes_in"] += size
            hits = hits_of.get((r, f))
            if hits is not None and not hits.contaminated(cfg.decontam.min_gram_hits):
                counts["near_miss_files"] += 1
            finding = screen_file(ctx, path, lang, content if isinstance(content, str) else None, hits)
            if finding is None:
                kept.append(f)
                continue
            decisions.append({"repo": repo, "sample": sample, "path": path, "lang": lang, "size": size,
                              "reason": finding.reason, "detail": finding.detail})
            removed[finding.reason]["files"] += 1
            removed[finding.reason]["bytes"] += size
            if finding.reason == "contaminated":
                for bit, grams in hits.per_benchmark:
                    bench = index.benchmarks[bit]
                    for target in (contamination[bench], per_repo[(repo, bench)]):
                        target["files"] += 1
                        target["bytes"] += size
                        target["grams"] += grams
        if not kept:
            counts["samples_dropped"] += 1
            continue
        counts["samples_out"] += 1
        counts["files_out"] += len(kept)
        if len(kept) < len(files):
            counts["samples_changed"] += 1
            row = dict(row)
            row["files"] = [files[i] for i in kept]
            row["langs"] = [langs[i] for i in kept]
            row["contents"] = [contents[i] for i in kept]
            t = time.perf_counter()
            row["text"] = _render_sample(row["files"], row["langs"], row["contents"])
            ctx.seconds["render"] += time.perf_counter() - t
            row["n_files"] = len(kept)
            row["size"] = _utf8_len(row["text"])
        counts["bytes_out"] += sum(_utf8_len(contents[i]) for i in kept if isinstance(contents[i], str))
        out_rows.append(row)
    return out_rows, decisions


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def aggregate(stats: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Sum per-shard stats into the stage metrics (metrics/quality.json)."""
    stats = list(stats)
    total = Counter()
    removed: dict[str, Counter] = defaultdict(Counter)
    contamination: dict[str, Counter] = defaultdict(Counter)
    parsed, errors, seconds = Counter(), Counter(), Counter()
    repos = set()
    for s in stats:
        for key in ("samples_in", "samples_out", "samples_dropped", "samples_changed", "files_in",
                    "files_out", "bytes_in", "bytes_out", "near_miss_files"):
            total[key] += s.get(key, 0)
        for reason, v in s.get("removed", {}).items():
            removed[reason].update({"files": v["files"], "bytes": v["bytes"]})
        for bench, v in s.get("contamination", {}).items():
            contamination[bench].update({"files": v["files"], "bytes": v["bytes"], "grams": v["grams"]})
        repos.update(row["repo"] for row in s.get("contaminated_repos", []))
        parsed.update(s.get("parsed_files", {}))
        errors.update(s.get("check_errors", {}))
        seconds.update(s.get("seconds", {}))
    files_removed = total["files_in"] - total["files_out"]
    bytes_removed = total["bytes_in"] - total["bytes_out"]
    contaminated = removed.get("contaminated", Counter())
    return {
        "shards": len(stats),
        "samples": {"in": total["samples_in"], "out": total["samples_out"],
                    "dropped": total["samples_dropped"], "changed": total["samples_changed"]},
        "files": {"in": total["files_in"], "out": total["files_out"], "removed": files_removed,
                  "removed_share": _share(files_removed, total["files_in"])},
        "bytes": {"in": total["bytes_in"], "out": total["bytes_out"], "removed": bytes_removed,
                  "removed_share": _share(bytes_removed, total["bytes_in"])},
        "removed": {reason: {"files": int(v["files"]), "bytes": int(v["bytes"]),
                             "file_share": _share(v["files"], total["files_in"]),
                             "byte_share": _share(v["bytes"], total["bytes_in"])}
                    for reason, v in sorted(removed.items())},
        "contamination": {
            "files": int(contaminated["files"]),
            "bytes": int(contaminated["bytes"]),
            "repos": len(repos),
            "near_miss_files": total["near_miss_files"],
            "per_benchmark": {b: {k: int(v[k]) for k in ("files", "bytes", "grams")}
                              for b, v in sorted(contamination.items())},
        },
        "parsed_files": dict(sorted(parsed.items())),
        "check_errors": dict(sorted(errors.items())),
        "mix": merge_mix(s.get("mix", {}) for s in stats),
        "seconds": {k: round(v, 3) for k, v in sorted(seconds.items())},
    }


def contamination_rows(stats: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (repo, benchmark) hit rows across shards, sorted: the artifact table of the stage."""
    rows = [row for s in stats for row in s.get("contaminated_repos", [])]
    return sorted(rows, key=lambda r: (r["repo"], r["benchmark"]))


def check_gate(metrics: dict[str, Any], cfg: Config) -> list[str]:
    """Gate violations (empty = pass), for the flow's gate next to its Great Expectations suite."""
    failures = []
    limit = cfg.gate.max_contaminated_files
    found = metrics["contamination"]["files"]
    if limit is not None and found > limit:
        failures.append(f"quality.gate.max_contaminated_files: {found} contaminated files > {limit}")
    share = metrics["files"]["removed_share"]
    if share > cfg.gate.max_removed_file_share:
        failures.append(f"quality.gate.max_removed_file_share: removed {share:.3f} of files > "
                        f"{cfg.gate.max_removed_file_share}")
    return failures
