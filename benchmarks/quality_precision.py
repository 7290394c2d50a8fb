"""Precision of the quality stage's removals, against a reviewer's labels, on real GitHub repositories.

    python -m benchmarks.quality_precision [--deduped DIR] [--labels FILE] [--json FILE] [--check]   (`make bench-github`)

Without --deduped the corpus is built first: a copy of this project (the copy tests and `make audit` make)
whose crawl manifest is the 15 bundles of ../shared/corpora/github, with the gate bands widened as
benchmarks.pipeline_scaling widens them, runs `dvc repro dedup` against its own Prefect server (the
copy lives in benchmarks/results/quality_precision/; a rerun finds it up to date). Then every
data/deduped shard goes through `quality_shard` with this work tree's `quality` params, and each
removal is looked up in the labels (benchmarks/quality_labels/github.tsv: one row per reviewed removal,
repo id without its @rev, path, reason, verdict keep|drop, why).

Reported per reason: removals, labelled drop / keep, precision = drop / labelled, the bytes of removals
labelled keep (a reviewer would have kept them) as a share of the corpus's bytes; then every removal
without a label for its reason, so the labels are completed when a heuristic changes. With --check the
exit status is 1 when a screening reason (syntax, heuristics, scorer; not `contaminated`) with labelled
removals is under --min-precision, the wrongly removed bytes (every reason) reach --max-wrong-share, or a
removal is unlabelled.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "../shared/corpora/github/manifest.yaml"
LABELS = "benchmarks/quality_labels/github.tsv"
WORK_DIR = "benchmarks/results/quality_precision"
COLUMNS = ("repo", "path", "reason", "verdict", "why")
VERDICTS = ("keep", "drop")
# reported, but not held to --min-precision: decontamination removes any file sharing a 10-gram with a
# benchmark by design (the paper's rule); its false positives are measured by tasks.quality.measure
NOT_CHECKED = ("contaminated",)
MIN_PRECISION = 0.9      # --check: per screening reason with labelled removals
MAX_WRONG_SHARE = 0.01   # --check: bytes of removals labelled keep, as a share of the corpus's bytes


@dataclass(frozen=True)
class Label:
    verdict: str
    why: str


def stable_repo(repo: str) -> str:
    """`git/vuejs/core@3be3d8777a19` -> `git/vuejs/core`: labels survive a new snapshot of the same repo."""
    return repo.split("@", 1)[0]


def load_labels(path: Path) -> dict[tuple[str, str, str], Label]:
    """(repo, path, reason) -> Label; one verdict per file, whatever reason it was reviewed under."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    rows = list(csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ValueError(f"{path}: the first row must be the header {' '.join(COLUMNS)}")
    labels: dict[tuple[str, str, str], Label] = {}
    verdict_of: dict[tuple[str, str], str] = {}
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(COLUMNS) or not all(row):
            raise ValueError(f"{path}: row {n}: expected {len(COLUMNS)} non-empty tab-separated fields, got {row!r}")
        repo, file, reason, verdict, why = row
        if verdict not in VERDICTS:
            raise ValueError(f"{path}: row {n}: verdict must be keep or drop, got {verdict!r}")
        if verdict_of.setdefault((repo, file), verdict) != verdict:
            raise ValueError(f"{path}: row {n}: {repo} {file} is labelled both keep and drop")
        if (repo, file, reason) in labels:
            raise ValueError(f"{path}: row {n}: {repo} {file} {reason} is labelled twice")
        labels[(repo, file, reason)] = Label(verdict, why)
    return labels


def score(decisions: list[dict[str, Any]], labels: dict[tuple[str, str, str], Label], corpus_bytes: int,
          reasons: tuple[str, ...]) -> dict[str, Any]:
    """Per-reason precision and wrongly removed bytes of `decisions` (quality_decisions rows)."""
    per: dict[str, Counter] = {r: Counter() for r in reasons}
    unlabelled, wrong = [], []
    for d in decisions:
        reason, size = d["reason"], int(d["size"] or 0)
        c = per.setdefault(reason, Counter())
        c["removed"] += 1
        c["bytes"] += size
        label = labels.get((stable_repo(d["repo"]), d["path"], reason))
        row = {"repo": stable_repo(d["repo"]), "path": d["path"], "reason": reason, "size": size, "detail": d["detail"]}
        if label is None:
            c["unlabelled"] += 1
            unlabelled.append(row)
            continue
        c[label.verdict] += 1
        if label.verdict == "keep":
            c["keep_bytes"] += size
            wrong.append({**row, "why": label.why})
    table = {}
    for reason, c in per.items():
        labelled = c["keep"] + c["drop"]
        table[reason] = {"removed": c["removed"], "bytes": c["bytes"], "drop": c["drop"], "keep": c["keep"],
                         "unlabelled": c["unlabelled"], "precision": c["drop"] / labelled if labelled else None,
                         "keep_bytes": c["keep_bytes"], "keep_share": c["keep_bytes"] / corpus_bytes if corpus_bytes else 0.0}
    keep_bytes = sum(v["keep_bytes"] for v in table.values())
    return {"corpus_bytes": corpus_bytes, "reasons": table, "removed": len(decisions),
            "keep_bytes": keep_bytes, "keep_share": keep_bytes / corpus_bytes if corpus_bytes else 0.0,
            "wrongly_removed": sorted(wrong, key=lambda r: -r["size"]), "unlabelled": unlabelled}


def failures(report: dict[str, Any], min_precision: float, max_wrong_share: float) -> list[str]:
    """What --check fails on (empty = targets met)."""
    out = [f"{reason}: precision {v['precision']:.3f} < {min_precision}" for reason, v in report["reasons"].items()
           if reason not in NOT_CHECKED and v["precision"] is not None and v["precision"] < min_precision]
    if report["keep_share"] >= max_wrong_share:
        out.append(f"removals a reviewer keeps: {report['keep_share']:.4f} of the corpus's bytes >= {max_wrong_share}")
    if report["unlabelled"]:
        out.append(f"{len(report['unlabelled'])} removals without a label (add them to the labels file)")
    return out


def markdown(report: dict[str, Any]) -> str:
    """The per-reason table, then the removals a reviewer keeps and the unlabelled ones."""
    mb = report["corpus_bytes"] / 1e6
    lines = [f"corpus: {mb:.1f} MB; removed {report['removed']} files; removals labelled keep: "
             f"{report['keep_bytes']} bytes = {report['keep_share']:.2%} of the corpus", "",
             "| reason | removed | bytes | drop | keep | unlabelled | precision | keep bytes (share) |",
             "|---|---|---|---|---|---|---|---|"]
    for reason, v in report["reasons"].items():
        precision = "-" if v["precision"] is None else f"{v['precision']:.2f}"
        lines.append(f"| {reason} | {v['removed']} | {v['bytes']} | {v['drop']} | {v['keep']} | {v['unlabelled']} | "
                     f"{precision} | {v['keep_bytes']} ({v['keep_share']:.2%}) |")
    for title, rows in (("removed but labelled keep", report["wrongly_removed"]),
                        ("unlabelled removals", report["unlabelled"])):
        if rows:
            lines += ["", f"{title}:"]
            lines += [f"  {r['reason']}\t{r['repo']}\t{r['path']}\t{r['size']}\t{r['detail']}" for r in rows]
    return "\n".join(lines)


def github_specs(manifest: Path) -> list[dict[str, Any]]:
    """The manifest's sources with their bundle paths made absolute (the project copy lives elsewhere)."""
    specs = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    return [{**s, "url": str((ROOT / s["url"]).resolve())} if s.get("type") == "git" else s for s in specs]


def build_corpus(work: Path, manifest: Path, log) -> Path:
    """data/deduped of the GitHub corpus, made by the pipeline's own stages in a project copy."""
    from benchmarks.pipeline_scaling import run_params
    from flows.audit import shared_caches
    from flows.server import free_port, start, stop
    from tasks.common.params import load_params
    from tests.support.project import make_project, project_env

    params = shared_caches(load_params(ROOT / "params.yaml"))
    work.mkdir(parents=True, exist_ok=True)
    specs_path = work / "manifest.yaml"
    specs_path.write_text(yaml.safe_dump(github_specs(manifest), sort_keys=False), encoding="utf-8")
    dest = work / "project"
    if not (dest / "dvc.yaml").exists():
        overrides = run_params(1, specs_path, params["crawl"]["cache_dir"], params["quality"]["decontam"]["cache_dir"])
        make_project(dest, overrides, ["crawl", "filter", "order", "dedup"])
    home, port = work / "prefect-home", free_port()
    env = project_env(dest)
    env["PREFECT_API_URL"] = start(port=port, home=home)
    try:
        log("dvc repro dedup (the GitHub corpus, crawl..dedup)")
        proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "dedup"], cwd=dest, env=env,
                              capture_output=True, text=True)
    finally:
        stop(port=port, home=home, wait_s=10)
    if proc.returncode != 0:
        raise RuntimeError(f"dvc repro dedup failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return dest / "data" / "deduped"


def screen_corpus(deduped: Path, out: Path, log) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every shard through the quality stage's own shard function; its decisions and aggregated metrics."""
    import pyarrow.parquet as pq

    from flows.audit import shared_caches
    from tasks.common.params import load_params
    from tasks.quality import aggregate, build_benchmark_index, config_from_params, quality_shard

    shards = sorted(deduped.glob("*.parquet"))
    if not shards:
        raise FileNotFoundError(f"no parquet shards in {deduped}")
    cfg = config_from_params(shared_caches(load_params(ROOT / "params.yaml"))["quality"])
    index = build_benchmark_index(cfg, cfg.decontam.cache_dir) if cfg.decontam.enabled else None
    shutil.rmtree(out, ignore_errors=True)
    stats, decisions = [], []
    for shard in shards:
        clean, dec = out / "clean" / shard.name, out / "decisions" / shard.name
        stats.append(quality_shard(shard, clean, dec, cfg, index_path=index))
        decisions += pq.read_table(dec).to_pylist()
    log(f"screened {len(shards)} shards")
    return decisions, aggregate(stats)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deduped", type=Path, help="a data/deduped directory to screen (default: build the GitHub corpus)")
    ap.add_argument("--manifest", type=Path, default=ROOT / MANIFEST)
    ap.add_argument("--labels", type=Path, default=ROOT / LABELS)
    ap.add_argument("--work-dir", type=Path, default=ROOT / WORK_DIR)
    ap.add_argument("--json", type=Path, help="also write the report as JSON here")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed or a removal is unlabelled")
    ap.add_argument("--min-precision", type=float, default=MIN_PRECISION)
    ap.add_argument("--max-wrong-share", type=float, default=MAX_WRONG_SHARE)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tasks.quality.screen import REASONS

    def log(msg: str) -> None:
        print(f"[quality-precision {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    labels = load_labels(args.labels)
    deduped = args.deduped or build_corpus(args.work_dir, args.manifest, log)
    decisions, metrics = screen_corpus(deduped, args.work_dir / "screen", log)
    report = score(decisions, labels, metrics["bytes"]["in"], REASONS)
    report["deduped"] = str(deduped)
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    missed = failures(report, args.min_precision, args.max_wrong_share)
    for line in missed:
        log(f"target missed: {line}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
