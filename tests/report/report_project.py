"""A tiny generated project tree with the inputs the report reads: metrics/*.json with the keys the
stages write, sample shards, the dedup cluster table, dvclive TSVs and a Data Docs stub.

Numbers come from a seeded RNG; `make_project` returns what it wrote so tests compare the report with
the inputs instead of with hard-coded values.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa

from tasks.common.io import shard_name, write_parquet
from tasks.common.mix import language_mix, merge_mix

ALL = ("crawl", "filter", "redact", "order", "dedup", "quality", "pack", "pretrain", "eval", "docs")
LANGS = ("Python", "C", "Rust", "JavaScript", "Go")
SNIPPETS = {
    "Python": "def f(x):\n    return x + 1  # café\n",
    "C": "int main(void) { return 0; } /* naïve */\n",
    "Rust": "fn main() { println!(\"héllo\"); }\n",
    "JavaScript": "export const f = (x) => x * 2; // ünïcode\n",
    "Go": "package main\nfunc main() {}\n",
}


def _dump(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _samples(rng: random.Random, n_repos: int) -> list[dict[str, Any]]:
    rows = []
    for r in range(n_repos):
        n_files = rng.randint(1, 4)
        langs = [rng.choice(LANGS) for _ in range(n_files)]
        contents = [SNIPPETS[lang] * rng.randint(1, 5) for lang in langs]
        rows.append({"repo": f"local/repo{r:02d}", "sample": 0, "files": [f"f{i}" for i in range(n_files)],
                     "langs": langs, "contents": contents, "text": "".join(contents), "n_files": n_files,
                     "size": sum(len(c.encode()) for c in contents)})
    return rows


def _write_samples(directory: Path, rows: list[dict[str, Any]], shards: int = 2) -> dict[str, Any]:
    """Write the samples as partitions; their language mix back, as the stages put it in their metrics."""
    directory.mkdir(parents=True, exist_ok=True)
    mixes = []
    for s in range(shards):
        part = [r for i, r in enumerate(rows) if i % shards == s]
        table = pa.Table.from_pylist(part, schema=pa.schema([
            ("repo", pa.string()), ("sample", pa.int32()), ("files", pa.list_(pa.string())),
            ("langs", pa.list_(pa.string())), ("contents", pa.list_(pa.string())), ("text", pa.string()),
            ("n_files", pa.int32()), ("size", pa.int64())]))
        write_parquet(table, directory / shard_name(s))
        mixes.append(language_mix(table))
    return merge_mix(mixes)


def make_project(root: Path, stages: tuple[str, ...] = ALL, seed: int = 0) -> dict[str, Any]:
    rng = random.Random(seed)
    wrote: dict[str, Any] = {}
    metrics = root / "metrics"
    by_lang = {lang: {"files": rng.randint(5, 50), "bytes": rng.randint(10_000, 900_000)} for lang in LANGS}
    by_lang["unknown"] = {"files": 7, "bytes": 12_345}
    if "crawl" in stages:
        crawl = {"by_language": by_lang, "files": sum(v["files"] for v in by_lang.values()),
                 "bytes": sum(v["bytes"] for v in by_lang.values()), "repos": 12, "failures": [], "opted_out": 1,
                 "licenses": {"by_category": {"permissive": 10, "non_permissive": 1, "no_license": 1},
                              "declared_and_detected": 10, "agreement_same": 0.9, "agreement_covers": 1.0}}
        _dump(metrics / "crawl.json", crawl)
        wrote["crawl"] = crawl
    if "filter" in stages:
        f_lang = {}
        for lang, v in by_lang.items():
            key = "(unknown)" if lang == "unknown" else lang
            kept_b = 0 if lang == "unknown" else int(v["bytes"] * rng.uniform(0.3, 1.0))
            kept_f = 0 if lang == "unknown" else rng.randint(1, v["files"])
            f_lang[key] = {"files_in": v["files"], "files_kept": kept_f, "bytes_in": v["bytes"],
                           "bytes_kept": kept_b, "pass_rate_bytes": round(kept_b / v["bytes"], 6)}
        drops = {r: {"files": rng.randint(1, 9), "bytes": rng.randint(1000, 90_000)}
                 for r in ("avg_line_length", "max_line_length", "alpha_fraction", "unsupported_language")}
        bi = sum(v["bytes_in"] for v in f_lang.values())
        bk = sum(v["bytes_kept"] for v in f_lang.values())
        filt = {"by_language": f_lang, "drops": drops, "bytes_in": bi, "bytes_kept": bk,
                "files_in": sum(v["files_in"] for v in f_lang.values()),
                "files_kept": sum(v["files_kept"] for v in f_lang.values()),
                "pass_rate_bytes": round(bk / bi, 6), "pass_rate_files": 0.7,
                "license_policy": {"repos_dropped": 1, "by_license": {"GPL-3.0-only": 1}}}
        _dump(metrics / "filter.json", filt)
        wrote["filter"] = filt
    if "redact" in stages:
        redact = {"files": 120, "files_redacted": 4, "residual": 0,
                  "by_type": {"KEY": 2, "PASSWORD": 1, "EMAIL": 3, "IP_ADDRESS": 0}}
        _dump(metrics / "redact.json", redact)
        wrote["redact"] = redact
    if "order" in stages:
        ordered = _samples(rng, 12)
        mix = _write_samples(root / "data" / "ordered", ordered)
        order = {"repos": 12, "samples": len(ordered), "files": {"in": sum(r["n_files"] for r in ordered)},
                 "files_lost": 0, "sample_bytes": {"total": sum(r["size"] for r in ordered)}, "mix": mix}
        _dump(metrics / "order.json", order)
        wrote["order"] = order
        wrote["ordered_rows"] = ordered
    if "dedup" in stages:
        ordered = wrote.get("ordered_rows") or _samples(rng, 12)
        clusters = [
            {"cluster": 0, "repo": "local/repo00", "kept": True, "kept_repo": "local/repo00", "est_jaccard": 1.0,
             "exact_jaccard": 1.0},
            {"cluster": 0, "repo": "local/repo01", "kept": False, "kept_repo": "local/repo00", "est_jaccard": 0.91,
             "exact_jaccard": 0.93},
            {"cluster": 0, "repo": "local/repo02", "kept": False, "kept_repo": "local/repo00", "est_jaccard": 0.88,
             "exact_jaccard": None},
            {"cluster": 1, "repo": "local/repo05", "kept": True, "kept_repo": "local/repo05", "est_jaccard": 1.0,
             "exact_jaccard": 1.0},
            {"cluster": 1, "repo": "local/repo06", "kept": False, "kept_repo": "local/repo05", "est_jaccard": 0.97,
             "exact_jaccard": 0.96},
        ]
        dropped = {c["repo"] for c in clusters if not c["kept"]}
        deduped = [r for r in ordered if r["repo"] not in dropped]
        mix = _write_samples(root / "data" / "deduped", deduped)
        write_parquet(pa.Table.from_pylist(clusters, schema=pa.schema([
            ("cluster", pa.int64()), ("repo", pa.string()), ("kept", pa.bool_()), ("kept_repo", pa.string()),
            ("est_jaccard", pa.float64()), ("exact_jaccard", pa.float64())])), root / "data" / "dedup_clusters.parquet")
        dedup = {"repos_in": 12, "repos_kept": 12 - len(dropped), "repos_dropped": len(dropped), "clusters": 2,
                 "rows_kept": len(deduped), "bytes_kept": sum(r["size"] for r in deduped),
                 "bytes_dropped": sum(r["size"] for r in ordered if r["repo"] in dropped), "threshold": 0.85,
                 "cluster_sizes": {"2": 1, "3": 1}, "gate": {"passed": True, "dropped_share": [0.0, 0.3]},
                 "dropped": [{"cluster": c["cluster"], "repo": c["repo"], "size": 1234} for c in clusters
                             if not c["kept"]], "mix": mix,
                 "exact": {"files_dropped": 5, "file_share": 0.04, "bytes_dropped": 4000},
                 "near": {"granularity": "repo", "docs_dropped": len(dropped)}}
        _dump(metrics / "dedup.json", dedup)
        wrote["dedup"], wrote["clusters"], wrote["deduped_rows"] = dedup, clusters, deduped
    if "quality" in stages:
        deduped = wrote.get("deduped_rows") or _samples(rng, 8)
        clean = deduped[:-1]
        mix = _write_samples(root / "data" / "clean", clean)
        q = {"mix": mix, "samples": {"in": len(deduped), "out": len(clean), "dropped": 1, "changed": 0},
             "files": {"in": sum(r["n_files"] for r in deduped), "out": sum(r["n_files"] for r in clean)},
             "bytes": {"in": sum(r["size"] for r in deduped), "out": sum(r["size"] for r in clean)},
             "removed": {"contaminated": {"files": 1, "bytes": 300}, "syntax_error": {"files": 2, "bytes": 900}}}
        _dump(metrics / "quality.json", q)
        wrote["quality"] = q
    if "pack" in stages:
        pack = {"input": {"docs": 40, "bytes": 5000, "tokens": 1500},
                "splits": {"train": {"tokens": 1024, "sequences": 8}, "val": {"tokens": 256, "sequences": 2}}}
        _dump(metrics / "pack.json", pack)
        wrote["pack"] = pack
    if "pretrain" in stages:
        live = root / "dvclive" / "pretrain" / "plots" / "metrics"
        steps = list(range(0, 200, 10))
        loss = [(s, round(6.0 * 0.985 ** s + rng.uniform(0, 0.05), 5)) for s in steps]
        lr = [(s, round(3e-4 * min(1.0, (s + 10) / 50), 8)) for s in steps]
        val = [(s, round(6.1 * 0.985 ** s, 5)) for s in steps[::5]]
        for rel, name, pts in (("train/loss.tsv", "loss", loss), ("train/lr.tsv", "lr", lr),
                               ("val/loss.tsv", "loss", val)):
            p = live / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("timestamp\tstep\t" + name + "\n"
                         + "".join(f"{1700000000000 + s}\t{s}\t{v}\n" for s, v in pts), encoding="utf-8")
        wrote["loss"], wrote["lr"], wrote["val"] = loss, lr, val
    if "eval" in stages:
        from tasks.evaluate.tables import paper_tables

        multi = {"languages": {
            lang: ({"name": lang, "skipped": "php not found: run `make toolchains`"} if lang == "php" else
                   {"name": lang, "n_problems": 161, "n_passed": i, "pass@1": round(i / 161, 6)})
            for i, lang in enumerate(("cpp", "java", "php", "ts", "cs", "sh", "js"))}}
        fim = {"languages": {lang: {"n": n, "n_exact": n // 3, "exact_match": round((n // 3) / n, 6)}
                             for lang, n in (("py", 1141), ("java", 1832), ("js", 2026))}}
        leetcode = {"n_problems": 180, "n_passed": 9, "pass@1": 0.05, "by_difficulty": {
            "Easy": {"n": 45, "n_passed": 6, "pass@1": 0.133333}, "Medium": {"n": 91, "n_passed": 3, "pass@1": 0.032967},
            "Hard": {"n": 44, "n_passed": 0, "pass@1": 0.0}}}
        benchmarks = {"humaneval": {"pass@1": 0.0122, "n_problems": 164, "seconds": 12.5},
                      "mbpp": {"error": "RuntimeError: sandbox unavailable", "seconds": 0.1},
                      "val_ppl": {"loss": 2.345, "perplexity": 10.43, "seconds": 1.0},
                      "humaneval_multilingual": multi, "fim_multilingual": fim, "leetcode": leetcode}
        ev = {"summary": {"humaneval_pass@1": 0.0122, "val_loss": 2.345, "val_perplexity": 10.43},
              "benchmarks": benchmarks, "tables": paper_tables(benchmarks),
              "model": {"dir": "models/export", "n_params": 3_400_000},
              "errors": ["mbpp: RuntimeError: sandbox unavailable"], "skipped": []}
        _dump(metrics / "eval.json", ev)
        wrote["eval"] = ev
    if "docs" in stages:
        docs = root / "reports" / "data_docs" / "index.html"
        docs.parent.mkdir(parents=True, exist_ok=True)
        docs.write_text("<!DOCTYPE html><title>Data Docs</title><p>stub</p>", encoding="utf-8")
    return wrote
