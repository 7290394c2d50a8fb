"""A nightly refresh that costs the delta: +5% new sources on the default corpus, incremental vs from scratch.

    python -m benchmarks.incremental [--extra N] [--partition-mb 2]        (`make bench-incremental`)
    python -m benchmarks.incremental --base 4x     (the same on bench-scale's 4x corpus: +5% = 20 sources)
    python -m benchmarks.incremental render [--base 4x]

Three project copies (flows.audit.make_copy) share the download cache and the decontamination index:
- `nightly`: night 1 = the default manifest, then night 2 = the default manifest + N new real packages
  (N of benchmarks/scaling_manifest.yaml's x4 list closest to the default's mean source size: 4 = 5% of 78 sources), the tokenizer
  frozen as a nightly refresh keeps it, its partition cache carried from night to night;
- `--base 4x`: night 1 = bench-scale's 4x corpus (default + x4, 390 sources), night 2 adds 5% of it from the
  x20 list, the same way: the same fixed per-stage costs (interpreter, imports, the gate) over a corpus 4x
  larger, so the ratio shows what the delta costs once those no longer dominate;
- `scratch`: the same params on the night-2 sources, from nothing (the same frozen tokenizer given to it);
- each data stage (crawl..pack) runs alone (`dvc repro --single-item`), so its CPU seconds are those of its
  own process tree (resource.getrusage of the reaped children: DVC, the flow, its workers).
Reported: CPU and wall per stage of night 2 against the from-scratch run (target: data stages <= 25% of the
from-scratch CPU), the partition jobs reused and recomputed, every data stage's dvc.lock hashes compared
(per-partition outputs identical), and the dedup decisions compared (data/dedup_clusters.parquet).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from flows.audit import ROOT, copy_env, deep_update, make_copy, shared_caches
from tasks.common.io import atomic_write_json, atomic_write_text

DATA = ["crawl", "filter", "redact", "order", "dedup", "quality", "tokenizer", "pack"]
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
# base corpus -> (its parts of benchmarks/scaling_manifest.yaml, the part new sources come from, files, heading)
BASES: dict[str, dict[str, Any]] = {
    "1x": {"parts": (), "extra_from": "x4", "json": ROOT / "benchmarks" / "incremental.json",
           "work": ROOT / "benchmarks" / "results" / "incremental", "heading": "## Nightly refresh: the delta"},
    "4x": {"parts": ("x4",), "extra_from": "x20", "json": ROOT / "benchmarks" / "incremental_4x.json",
           "work": ROOT / "benchmarks" / "results" / "incremental_4x",
           "heading": "## Nightly refresh: the delta on the 4x corpus"},
}
HEADING = BASES["1x"]["heading"]
TARGET = 0.25


def sized_part(part: str) -> list[tuple[int, dict[str, Any]]]:
    """(unpacked KiB, spec) of each source of one part of benchmarks/scaling_manifest.yaml (sizes in its comments)."""
    text = (ROOT / "benchmarks" / "scaling_manifest.yaml").read_text(encoding="utf-8")
    sized, inside = [], False
    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            inside = line.startswith(f"{part}:")
            continue
        if inside and line.strip().startswith("- {") and "unpacked" in line:
            spec = yaml.safe_load(line.split("#")[0].strip()[2:])
            kib = int(line.split("unpacked", 1)[1].split("KiB")[0])
            sized.append((kib, spec))
    return sized


def extra_sources(n: int, mean_kib: float = 55 * 1024 / 78, part: str = "x4") -> list[dict[str, Any]]:
    """n pinned packages of one part of the scaling manifest, those closest in size to the base corpus's mean
    source (the default: 55 MiB unpacked over 78 sources), so the delta is ~n/len(base) of the corpus by bytes
    as well as by count (not the n smallest, which would flatter the delta)."""
    sized = sized_part(part)
    if len(sized) < n:
        raise SystemExit(f"benchmarks/scaling_manifest.yaml: {part} lists {len(sized)} sized sources, {n} wanted")
    return [spec for _, spec in sorted(sized, key=lambda t: (abs(t[0] - mean_kib), t[1]["name"]))[:n]]


def base_sources(base: str) -> tuple[list[dict[str, Any]], float]:
    """The base corpus's sources (default manifest + its scaling parts) and their mean unpacked KiB."""
    from tasks.crawl.config import DEFAULT_MANIFEST, load_manifest

    sources = [dict(s) for s in load_manifest(str(ROOT / DEFAULT_MANIFEST))]
    kib = 55 * 1024.0
    for part in BASES[base]["parts"]:
        sized = sized_part(part)
        sources += [dict(spec) for _, spec in sized]
        kib += sum(k for k, _ in sized)
    return sources, kib / len(sources)


def params_for(sources: list[dict[str, Any]], partition_mb: float) -> dict[str, Any]:
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    loose = {"mode": "warn"}  # gates report; what is measured here is cost and identity
    return shared_caches(deep_update(base, {
        "runtime": {"partition_mb": partition_mb, "min_partitions": 1},
        "crawl": {"manifest": None, "sources": sources},
        "filter": {"gate": loose}, "order": {"gate": loose}, "dedup": {"gate": loose}, "quality": {"gate": loose},
        "tokenizer": {"frozen": True},
    }))


def run_stage(project: Path, stage: str) -> dict[str, Any]:
    """`dvc repro --single-item stage` alone: wall and CPU seconds of its whole reaped process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "--single-item", stage], cwd=project,
                          env=copy_env(project), capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{project.name}: {stage} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    timings_path = project / "reports" / "timings" / f"{stage}.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    jobs = {"reused": 0, "computed": 0}
    for key, value in timings.items():
        for kind in jobs:
            if (key == kind or key.endswith(f"_{kind}")) and isinstance(value, int):
                jobs[kind] += value
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), **jobs}


def lock(project: Path) -> dict[str, dict[str, str]]:
    stages = (yaml.safe_load((project / "dvc.lock").read_text()) or {}).get("stages", {})
    return {name: {o["path"]: o.get("md5", "") for o in st.get("outs", [])} for name, st in stages.items()}


def night(project: Path, sources: list[dict[str, Any]], partition_mb: float) -> dict[str, Any]:
    (project / "params.yaml").write_text(yaml.safe_dump(params_for(sources, partition_mb), sort_keys=False))
    return {stage: run_stage(project, stage) for stage in DATA}


def clusters(project: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(project / "data" / "dedup_clusters.parquet").to_pylist()


def measure(extra: int | None, partition_mb: float, base: str = "1x") -> dict[str, Any]:
    work = BASES[base]["work"]
    if work.exists():
        shutil.rmtree(work)
    default, mean_kib = base_sources(base)
    n = extra if extra is not None else max(1, round(0.05 * len(default)))
    added = extra_sources(n, mean_kib, BASES[base]["extra_from"])
    nightly = make_copy(work / "nightly", params_for(default, partition_mb), DATA)
    night1 = night(nightly, default, partition_mb)
    night2 = night(nightly, default + added, partition_mb)
    scratch = make_copy(work / "scratch", params_for(default + added, partition_mb), DATA)
    (scratch / "models").mkdir(exist_ok=True)  # the same frozen tokenizer (a persisting output)
    shutil.copytree(nightly / "models" / "tokenizer", scratch / "models" / "tokenizer")
    full = night(scratch, default + added, partition_mb)
    got, want = lock(nightly), lock(scratch)
    same = {stage: got.get(stage) == want.get(stage) for stage in DATA}
    decisions_same = clusters(nightly) == clusters(scratch)
    cpu_incr = sum(s["cpu_s"] for s in night2.values())
    cpu_full = sum(s["cpu_s"] for s in full.values())
    delta = json.loads((nightly / "reports" / "delta" / "crawl.json").read_text())
    return {
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                                     text=True).stdout.strip(),
        "loadavg": os.getloadavg()[0],
        "base": base, "sources": {"night1": len(default), "added": [f"{s['type']}/{s['name']}@{s['version']}" for s in added]},
        "partition_mb": partition_mb, "delta": {k: len(v) if isinstance(v, list) else v for k, v in delta.items()},
        "night1": night1, "night2": night2, "scratch": full,
        "cpu": {"incremental": round(cpu_incr, 1), "scratch": round(cpu_full, 1),
                "ratio": round(cpu_incr / cpu_full, 3) if cpu_full else None, "target": TARGET},
        "identical_outputs": same, "dedup_decisions_identical": decisions_same,
    }


def render(results: dict[str, Any]) -> str:
    base = results.get("base", "1x")
    command = ("`make bench-incremental` (`python -m benchmarks.incremental`)" if base == "1x"
               else f"`python -m benchmarks.incremental --base {base}`")
    corpus = ("the default manifest" if base == "1x"
              else f"bench-scale's {base} corpus (default + {' + '.join(BASES[base]['parts'])})")
    lines = [BASES[base]["heading"], "",
             f"Written by {command} on {results['finished_at']}, "
             f"commit `{results['git_commit']}`; 2 shared cores (load average {results['loadavg']:.1f} at the end). "
             f"Night 1: {corpus} ({results['sources']['night1']} sources); night 2 adds "
             f"{len(results['sources']['added'])} real packages ({', '.join(results['sources']['added'])}), with the "
             f"night-1 partition cache and the frozen tokenizer; from scratch: the night-2 sources in a fresh copy "
             f"(same frozen tokenizer). Partitions of {results['partition_mb']} MiB. CPU = user+system seconds of "
             "each stage's whole process tree.", "",
             "| stage | night 2 CPU s | from scratch CPU s | ratio | night 2 wall s | scratch wall s | jobs reused / recomputed (night 2) | outputs identical |",
             "|---|---|---|---|---|---|---|---|"]
    for stage in DATA:
        a, b = results["night2"][stage], results["scratch"][stage]
        ratio = f"{a['cpu_s'] / b['cpu_s']:.2f}" if b["cpu_s"] else "-"
        lines.append(f"| {stage} | {a['cpu_s']} | {b['cpu_s']} | {ratio} | {a['wall_s']} | {b['wall_s']} | "
                     f"{a['reused']} / {a['computed']} | {'yes' if results['identical_outputs'][stage] else 'NO'} |")
    c = results["cpu"]
    verdict = ("not measured: the from-scratch run used no CPU time" if c["ratio"] is None
               else "met" if c["ratio"] <= c["target"] else "missed")
    share = "n/a" if c["ratio"] is None else f"{c['ratio']:.0%}"
    lines += ["", f"Data stages: night 2 used {c['incremental']} CPU s against {c['scratch']} from scratch: "
              f"**{share}** (target <= {c['target']:.0%}: {verdict}). Dedup decisions "
              f"{'identical' if results['dedup_decisions_identical'] else 'DIFFERENT'} to the from-scratch run. "
              f"Crawl delta: {results['delta']}.", ""]
    return "\n".join(lines)


def with_sections(markdown: str) -> str:
    """What `make bench` calls after rendering RESULTS.md: keep each base's section when its results exist."""
    from benchmarks.pipeline_scaling import replace_section

    for spec in BASES.values():
        if spec["json"].is_file():
            markdown = replace_section(markdown, render(json.loads(spec["json"].read_text())), spec["heading"])
    return markdown


def main(argv: list[str] | None = None) -> int:
    from benchmarks.pipeline_scaling import replace_section

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="?", default="run", choices=["run", "render"])
    ap.add_argument("--base", choices=sorted(BASES), default="1x",
                    help="night 1's corpus: the default (1x) or bench-scale's 4x corpus")
    ap.add_argument("--extra", type=int, default=None,
                    help="new sources on night 2 (default: 5%% of the base's sources, 4 of the default's 78)")
    ap.add_argument("--partition-mb", type=float, default=2.0)
    args = ap.parse_args(argv)
    spec = BASES[args.base]
    if args.command == "run":
        results = measure(args.extra, args.partition_mb, args.base)
        atomic_write_json(spec["json"], results)
    results = json.loads(spec["json"].read_text())
    section = render(results)
    atomic_write_text(RESULTS_MD, replace_section(RESULTS_MD.read_text(encoding="utf-8"), section, spec["heading"]))
    print(section)
    return 0 if all(results["identical_outputs"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
