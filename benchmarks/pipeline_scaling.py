"""The whole data pipeline (crawl .. pack) on 1x, 2x and 4x the default corpus, with 1 and 2 workers.

    python -m benchmarks.pipeline_scaling [--runs 1x1 1x2 2x2 4x2 4x1] [--budget-min 40]   (`make bench-scaling`)
    python -m benchmarks.pipeline_scaling sizes [--scale 4]   # per-source sizes (fills the download cache)
    python -m benchmarks.pipeline_scaling render              # RESULTS.md section from the JSON

Why real corpora and not replicas: the per-stage Scaling table of `make bench` replicates the raw shards
under new repository ids, which near-dedup removes again, so stages after dedup would not see 2x or 4x.
Here 2x and 4x are the default manifest plus more real PyPI/npm packages (benchmarks/scaling_manifest.yaml):
each corpus holds the smaller one.

Each run is a fresh project copy (the one tests and `make audit` build) with gate bands widened as the
robustness tests widen them (a bigger corpus shifts the language mix the default bands are fitted to), its
own Prefect server, and the crawl download cache and decontamination index shared with this work tree, so
every timed crawl is warm (the cache is filled first, untimed). The stages run in DAG order, one
`dvc repro --single-item <stage>` each (the same work as `dvc repro pack`, with each stage's process tree
alone to measure), then `dvc repro pack` must find nothing to do. Per stage: wall time (own clock, and the
flow's reports/timings), CPU seconds of the whole process tree (wait4 rusage: every reaped descendant),
peak RSS summed over the tree (psutil, every 0.2 s; psutil comes with dvc), bytes in and out (the stage's
metrics), the load average and the CPU seconds other processes used meanwhile (the machine is shared).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from benchmarks.measure import fit_exponent, ratio, rounded

ROOT = Path(__file__).resolve().parents[1]
DATA_STAGES = ("crawl", "filter", "order", "dedup", "quality", "tokenizer", "pack")
SCALES = (1, 2, 4)
PARTS = {2: ("x2",), 4: ("x2", "x4")}  # the extra-manifest parts each scale adds to the default manifest
DEFAULT_RUNS = ((1, 1), (1, 2), (2, 2), (4, 2), (4, 1))
FIT_WORKERS = 2  # the worker count measured at every scale: the exponents are fitted on its runs
SCALING_MANIFEST = "benchmarks/scaling_manifest.yaml"
RESULTS_JSON = "benchmarks/pipeline_scaling.json"
RESULTS_MD = "benchmarks/RESULTS.md"
WORK_DIR = "benchmarks/results/pipeline_scaling"
HEADING = "## Pipeline scaling"
SAMPLE_S = 0.2
MIB = 2**20
# (input, output) bytes of each stage: dotted keys of metrics/<stage>.json; a missing input is the
# previous stage's output, a missing output the size on disk of the stage's outs.
STAGE_IO: dict[str, tuple[str | None, str | None]] = {
    "crawl": (None, "bytes"), "filter": ("bytes_in", "bytes_kept"), "order": (None, "sample_bytes.total"),
    "dedup": ("bytes_in", "bytes_kept"), "quality": ("bytes.in", "bytes.out"),
    "tokenizer": ("train.bytes", None), "pack": ("input.bytes", None),
}


# --- corpora ---------------------------------------------------------------------------------------

def load_parts(path: str | Path = ROOT / SCALING_MANIFEST) -> dict[str, tuple[dict[str, Any], ...]]:
    """The extra manifest: a mapping part -> list of source specs (validated like crawl.manifest)."""
    from tasks.common.params import ParamError
    from tasks.crawl.sources import validate_spec

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    wanted = sorted({p for parts in PARTS.values() for p in parts})
    if not isinstance(data, dict) or sorted(data) != wanted:
        raise ParamError(f"{path}: expected a mapping with exactly the keys {', '.join(wanted)}")
    return {part: tuple(validate_spec(s, f"{path}:{part}[{i}]") for i, s in enumerate(data[part] or []))
            for part in wanted}


def corpus_specs(scale: int, default: Sequence[dict[str, Any]], parts: dict[str, Sequence[dict[str, Any]]]
                 ) -> list[dict[str, Any]]:
    """Sources of the `scale`x corpus: the default manifest, plus the extra parts of that scale."""
    if scale != 1 and scale not in PARTS:
        raise ValueError(f"scale {scale}: expected one of {', '.join(map(str, SCALES))}")
    specs = list(default) + [s for part in PARTS.get(scale, ()) for s in parts[part]]
    from tasks.crawl.sources import spec_key

    keys = [spec_key(s) for s in specs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"scale {scale}: sources listed twice: {', '.join(dupes)}")
    return specs


def default_specs() -> tuple[dict[str, Any], ...]:
    from tasks.crawl.config import DEFAULT_MANIFEST, load_manifest

    return load_manifest(str(ROOT / DEFAULT_MANIFEST))


def source_sizes(specs: Sequence[dict[str, Any]], crawl_section: dict[str, Any], threads: int = 4,
                 log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Crawl each source with the crawl's own code, limits and cache (a cold entry is downloaded once):
    files, unpacked bytes, text bytes, files over the size cap, bytes downloaded now."""
    from concurrent.futures import ThreadPoolExecutor

    from tasks.crawl import config_from_params, crawl_source

    section = {k: v for k, v in crawl_section.items() if k != "manifest"}
    cfg = config_from_params({**section, "sources": list(specs)})
    cache_dir = cfg.cache_dir

    def one(spec: dict[str, Any]) -> dict[str, Any]:
        res = crawl_source(spec, cfg, cache_dir)
        rows = res["rows"]
        out = {"source": f"{spec['type']}:{spec.get('name')}@{spec.get('version')}", "error": res["error"],
               "files": len(rows), "unpacked_bytes": sum(r["size"] or 0 for r in rows),
               "text_bytes": sum(len(r["content"].encode("utf-8", "surrogatepass")) for r in rows if r["content"]),
               "too_large": sum(r["skip_reason"] == "too_large" for r in rows),
               "downloaded_bytes": res["stats"]["downloaded_bytes"]}
        log(f"{out['source']}: {out['unpacked_bytes'] / MIB:.2f} MiB unpacked, {out['files']} files"
            + (f", ERROR {out['error']}" if out["error"] else ""))
        return out

    with ThreadPoolExecutor(max(1, threads)) as pool:
        return list(pool.map(one, specs))


# --- measuring one process tree ------------------------------------------------------------------------

class TreeSampler(threading.Thread):
    """Peak of the RSS summed over a process and all its descendants, sampled every `interval` s."""

    def __init__(self, pid: int, interval: float = SAMPLE_S):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_bytes = 0
        self.peak_procs = 0
        self.samples = 0
        self._halt = threading.Event()

    def sample(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        self.samples += 1
        self.peak_bytes = max(self.peak_bytes, total)
        self.peak_procs = max(self.peak_procs, len(procs))

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, idle and iowait excluded)."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def tree_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a live process and its live descendants (0 when it is gone)."""
    import psutil

    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            c = p.cpu_times()
            total += c.user + c.system
        except psutil.Error:
            pass
    return total


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def measure_process(cmd: list[str], *, cwd: Path, env: dict[str, str], log_path: Path, timeout_s: float,
                    server_pid: int | None = None) -> dict[str, Any]:
    """Run `cmd` in its own session; wall, CPU of the tree (wait4: the child and every descendant it
    reaped), peak summed RSS, the largest single process RSS, load and other processes' CPU meanwhile."""
    load0, busy0, server0 = os.getloadavg(), busy_cpu_s(), tree_cpu_s(server_pid)
    started = time.perf_counter()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    sampler = TreeSampler(proc.pid)
    sampler.start()
    timer = threading.Timer(timeout_s, _kill_group, (proc.pid,))
    timer.start()
    try:
        _, status, ru = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
        sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    cpu = ru.ru_utime + ru.ru_stime
    server_cpu = tree_cpu_s(server_pid) - server0
    return {
        "returncode": proc.returncode, "timed_out": wall >= timeout_s, "wall_s": wall, "cpu_s": cpu,
        "user_s": ru.ru_utime, "system_s": ru.ru_stime, "peak_rss_mib": sampler.peak_bytes / MIB,
        "max_process_rss_mib": ru.ru_maxrss * 1024 / MIB, "peak_processes": sampler.peak_procs,
        "rss_samples": sampler.samples, "prefect_server_cpu_s": server_cpu,
        "others_cpu_s": busy_cpu_s() - busy0 - cpu - server_cpu,
        "loadavg_start": [round(x, 2) for x in load0], "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }


# --- one run: a project copy, the stages in order ----------------------------------------------------------

def dotted(data: dict[str, Any], key: str | None) -> Any:
    node: Any = data
    for part in (key or "").split(".") if key else []:
        node = node.get(part) if isinstance(node, dict) else None
    return node if key else None


def disk_bytes(paths: Sequence[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def stage_outs(dvc_yaml: dict[str, Any], stage: str) -> list[str]:
    return [next(iter(o)) if isinstance(o, dict) else str(o) for o in dvc_yaml["stages"][stage].get("outs") or []]


def run_params(workers: int, manifest: Path, crawl_cache: str, quality_cache: str) -> dict[str, Any]:
    """params.yaml overrides of one run: worker counts, the corpus, shared caches, widened gates."""
    from tests.robustness.robustness_support import tiny_params
    from tests.support.project import deep_update

    gates = {k: v for k, v in tiny_params([], Path(crawl_cache)).items() if k not in ("runtime", "crawl")}
    return deep_update(gates, {
        "runtime": {"workers": workers}, "pack": {"workers": workers},
        "crawl": {"manifest": str(manifest), "cache_dir": crawl_cache},
        "quality": {"decontam": {"cache_dir": quality_cache}},
    })


def run_key(scale: int, workers: int) -> str:
    return f"{scale}x-{workers}w"


def run_one(scale: int, workers: int, specs: list[dict[str, Any]], work: Path, *, api_url: str,
            server_pid: int | None, crawl_cache: str, quality_cache: str, timeout_s: float, keep: bool,
            log: Callable[[str], None]) -> dict[str, Any]:
    """One (scale, workers) run: copy, stages in order, figures per stage."""
    from tests.support.project import make_project, project_env

    run_dir = work / run_key(scale, workers)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    manifest = run_dir / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(specs, sort_keys=False), encoding="utf-8")
    dest = make_project(run_dir / "project", run_params(workers, manifest, crawl_cache, quality_cache),
                        list(DATA_STAGES))
    env = project_env(dest)
    env.update(PREFECT_API_URL=api_url, RAYON_NUM_THREADS=str(workers), OMP_NUM_THREADS=str(workers))
    dvc_yaml = yaml.safe_load((dest / "dvc.yaml").read_text())
    out: dict[str, Any] = {"scale": scale, "workers": workers, "sources": len(specs), "stages": {},
                           "loadavg_start": [round(x, 2) for x in os.getloadavg()], "code": _code_version(),
                           "started_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    previous_out: int | None = None
    for stage in DATA_STAGES:
        log(f"{run_key(scale, workers)}: {stage}")
        m = measure_process([sys.executable, "-m", "dvc", "repro", "--single-item", stage], cwd=dest, env=env,
                            log_path=run_dir / f"{stage}.log", timeout_s=timeout_s, server_pid=server_pid)
        metrics = _read_json(dest / "metrics" / f"{stage}.json")
        timings = _read_json(dest / "reports" / "timings" / f"{stage}.json")
        in_key, out_key = STAGE_IO[stage]
        outs = stage_outs(dvc_yaml, stage)
        m.update(flow_s=timings.get("seconds"), timings=timings, outs=outs,
                 out_disk_bytes=disk_bytes([dest / o for o in outs]),
                 in_bytes=dotted(metrics, in_key) if in_key else previous_out)
        m["out_bytes"] = dotted(metrics, out_key) if out_key else m["out_disk_bytes"]
        if stage == "crawl":
            out["corpus"] = {k: metrics.get(k) for k in ("bytes", "text_bytes", "files", "text_files", "repos",
                                                        "repos_failed", "languages")}
            out["crawl_warm"] = timings.get("downloaded_bytes") == 0
        if stage == "pack":
            m["tokens"] = dotted(metrics, "input.tokens")
        if stage == "tokenizer":
            m["docs"] = dotted(metrics, "train.docs")
        out["stages"][stage] = m
        previous_out = m["out_bytes"]
        log(f"{run_key(scale, workers)}: {stage} rc {m['returncode']} wall {m['wall_s']:.1f} s cpu {m['cpu_s']:.1f} s "
            f"peak {m['peak_rss_mib']:.0f} MiB load {m['loadavg_end'][0]}")
        if m["returncode"] != 0:
            m["log_tail"] = (run_dir / f"{stage}.log").read_text(errors="replace")[-3000:]
            out["error"] = f"{stage}: exit {m['returncode']}" + (" (timed out)" if m["timed_out"] else "")
            break
    if "error" not in out:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "dvc", "repro", "pack"], cwd=dest, env=env,
                              capture_output=True, text=True, timeout=600)
        out["final_repro"] = {"returncode": proc.returncode, "seconds": time.perf_counter() - started,
                              "up_to_date": proc.returncode == 0 and "Running stage" not in proc.stdout}
    done = list(out["stages"].values())
    out["wall_s"] = sum(s["wall_s"] for s in done)
    out["cpu_s"] = sum(s["cpu_s"] for s in done)
    out["peak_rss_mib"] = max((s["peak_rss_mib"] for s in done), default=0.0)
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if not keep:
        shutil.rmtree(dest, ignore_errors=True)
    return out


def _code_version() -> dict[str, Any]:
    """The commit the copy was made from, and whether the work tree differed (other work lands meanwhile)."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        return proc.stdout.strip()

    dirty = git("status", "--porcelain", "--", "flows", "tasks", "dvc.yaml", "params.yaml")
    return {"commit": git("rev-parse", "--short=12", "HEAD"), "dirty_paths": dirty.splitlines()}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# --- figures ---------------------------------------------------------------------------------------

def x_bytes(stage_rec: dict[str, Any]) -> int | None:
    """The size a stage's cost is fitted against: its input bytes (the crawl: the bytes it produced)."""
    return stage_rec.get("in_bytes") or stage_rec.get("out_bytes")


def fits(runs: dict[str, dict[str, Any]], workers: int = FIT_WORKERS) -> dict[str, Any]:
    """Per stage and for the whole pipeline: log-log slopes of CPU s, wall s, peak RSS against bytes in,
    over the runs with `workers` workers (1.0 = linear)."""
    chosen = sorted((r for r in runs.values() if r.get("workers") == workers and "error" not in r),
                    key=lambda r: r["scale"])
    out: dict[str, Any] = {}
    for stage in DATA_STAGES:
        pts = [{"scale": r["scale"], "bytes": x_bytes(r["stages"][stage]), "cpu_s": r["stages"][stage]["cpu_s"],
                "wall_s": r["stages"][stage]["wall_s"], "peak_rss_mib": r["stages"][stage]["peak_rss_mib"],
                "flow_s": r["stages"][stage].get("flow_s")}
               for r in chosen if stage in r["stages"]]
        out[stage] = _fit(pts)
    total = [{"scale": r["scale"], "bytes": (r.get("corpus") or {}).get("bytes"), "cpu_s": r["cpu_s"],
              "wall_s": r["wall_s"], "peak_rss_mib": r["peak_rss_mib"],
              "flow_s": sum(s.get("flow_s") or 0.0 for s in r["stages"].values())} for r in chosen]
    out["total"] = _fit(total)
    return out


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """Least-squares (intercept, slope) of y = a + b x: a fixed cost and a cost per unit."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def _fit(pts: list[dict[str, Any]]) -> dict[str, Any]:
    pts = [p for p in pts if p.get("bytes")]
    xs = [p["bytes"] for p in pts]
    lin = linear_fit(xs, [p["cpu_s"] for p in pts])
    return {"points": pts, "scales": [p["scale"] for p in pts],
            "cpu_exponent": fit_exponent(xs, [p["cpu_s"] for p in pts]),
            "wall_exponent": fit_exponent(xs, [p["wall_s"] for p in pts]),
            "memory_exponent": fit_exponent(xs, [p["peak_rss_mib"] for p in pts]),
            "flow_exponent": fit_exponent(xs, [p.get("flow_s") or 0.0 for p in pts]),
            "cpu_fixed_s": lin[0] if lin else None,
            "cpu_s_per_100mb": lin[1] * 1e8 if lin else None}


def speedups(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per scale measured with 1 and 2 workers: wall(1)/wall(2) per stage and in total, CPU(2)/CPU(1)."""
    out: dict[str, Any] = {}
    for scale in SCALES:
        one, two = runs.get(run_key(scale, 1)), runs.get(run_key(scale, 2))
        if not one or not two or "error" in one or "error" in two:
            continue
        rows = {}
        for stage in DATA_STAGES:
            a, b = one["stages"].get(stage), two["stages"].get(stage)
            if a and b:
                rows[stage] = {"wall_1w": a["wall_s"], "wall_2w": b["wall_s"], "speedup": ratio(a["wall_s"], b["wall_s"]),
                               "cpu_ratio": ratio(b["cpu_s"], a["cpu_s"]),
                               "peak_rss_ratio": ratio(b["peak_rss_mib"], a["peak_rss_mib"])}
        rows["total"] = {"wall_1w": one["wall_s"], "wall_2w": two["wall_s"], "speedup": ratio(one["wall_s"], two["wall_s"]),
                         "cpu_ratio": ratio(two["cpu_s"], one["cpu_s"]),
                         "peak_rss_ratio": ratio(two["peak_rss_mib"], one["peak_rss_mib"])}
        out[str(scale)] = rows
    return out


def summary_sentences(results: dict[str, Any]) -> list[str]:
    """How cost grows and what dominates, read off the figures (not written by hand)."""
    f = results.get("fits") or {}
    tot = f.get("total") or {}
    pts = tot.get("points") or []
    if len(pts) < 2:
        return []
    lo, hi = pts[0], pts[-1]
    big = results["runs"][run_key(hi["scale"], FIT_WORKERS)]["stages"]
    shares = sorted(((s["cpu_s"] / hi["cpu_s"], name) for name, s in big.items()), reverse=True)
    growth = sorted(((f[s]["cpu_exponent"] or 0.0, s) for s in DATA_STAGES if s in f and f[s].get("cpu_exponent")),
                    reverse=True)
    mem = max(big.items(), key=lambda kv: kv[1]["peak_rss_mib"])
    out = [
        f"From {lo['scale']}x to {hi['scale']}x ({lo['bytes'] / 1e6:.0f} to {hi['bytes'] / 1e6:.0f} MB crawled) the "
        f"pipeline's CPU time grows from {lo['cpu_s']:.0f} to {hi['cpu_s']:.0f} s (exponent "
        f"{_fmt(tot.get('cpu_exponent'))}; wall {lo['wall_s']:.0f} to {hi['wall_s']:.0f} s, exponent "
        f"{_fmt(tot.get('wall_exponent'))}) and the largest peak RSS from {lo['peak_rss_mib']:.0f} to "
        f"{hi['peak_rss_mib']:.0f} MiB (exponent {_fmt(tot.get('memory_exponent'))}).",
        f"At {hi['scale']}x the CPU time is dominated by " + ", ".join(
            f"{name} ({share:.0%})" for share, name in shares[:3]) + "; the fastest-growing stages are "
        + ", ".join(f"{s} ({e:.2f})" for e, s in growth[:2]) + f", and the memory peak is {mem[0]}'s "
        f"({mem[1]['peak_rss_mib']:.0f} MiB summed over its processes).",
    ]
    fixed = sum(f[s]["cpu_fixed_s"] for s in DATA_STAGES if (f.get(s) or {}).get("cpu_fixed_s") is not None)
    if tot.get("cpu_s_per_100mb") is not None:
        out.append(f"A straight-line fit puts about {fixed:.0f} CPU-s of the pipeline in per-stage fixed costs "
                   f"(interpreter, Prefect and DVC start, gates) and {tot['cpu_s_per_100mb']:.0f} CPU-s per 100 MB "
                   "crawled on top, which is why the log-log exponents stay below 1 over this range.")
    sp = (results.get("speedups") or {})
    if sp:
        out.append("Two workers instead of one: " + "; ".join(
            f"at {k}x {v['total']['speedup']:.2f}x faster in wall time for {v['total']['cpu_ratio']:.2f}x the CPU "
            f"(best stage: {max(((s, r) for s, r in v.items() if s != 'total'), key=lambda sr: sr[1]['speedup'] or 0)[0]})"
            for k, v in sorted(sp.items())) + ".")
    return out


# --- markdown ----------------------------------------------------------------------------------------

def _fmt(x: Any, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def section_markdown(results: dict[str, Any]) -> str:
    """The "Pipeline scaling" section of RESULTS.md."""
    runs = results.get("runs") or {}
    ordered = sorted(runs.values(), key=lambda r: (r["workers"] != FIT_WORKERS, r["scale"], r["workers"]))
    m = results.get("machine") or {}
    lines = [
        HEADING, "",
        f"Written by `make bench-scaling` (`python -m benchmarks.pipeline_scaling`) on {results.get('finished_at')} "
        f"({(results.get('seconds') or 0) / 60:.0f} min), commit `{str(m.get('git_commit') or '?')[:12]}`"
        f"{' (uncommitted changes)' if m.get('git_dirty') else ''}; {m.get('cpus_usable')} usable cores, shared with "
        "other jobs (load averages below). The whole data pipeline (crawl, filter, order, dedup, quality, tokenizer, "
        "pack) in a fresh project copy per run, stage by stage (`dvc repro --single-item`, then `dvc repro pack` "
        "finds nothing to do). Corpora: 1x = tasks/crawl/default_manifest.yaml; 2x and 4x add real PyPI/npm "
        "packages (benchmarks/scaling_manifest.yaml), each corpus containing the smaller one. Gate bands widened; "
        "crawl download cache shared and filled before timing (every timed crawl "
        f"{'warm' if all(r.get('crawl_warm') for r in runs.values()) else 'NOT all warm: see crawl_warm'}). "
        "Workers = runtime.workers and pack.workers (RAYON_NUM_THREADS and OMP_NUM_THREADS set alike). "
        "CPU = user+system seconds of the stage's whole process tree; peak RSS = largest sum of RSS over the "
        f"tree, sampled every {SAMPLE_S} s (shared pages count once per process). Exponents: least-squares slope of "
        f"log(cost) against log(stage input bytes) over the {FIT_WORKERS}-worker runs (1.0 = linear); CPU "
        "seconds are the figure to trust here, wall time moves with the other jobs' load.", "",
        "| Run | sources | crawled MB (text MB) | repos | wall s | CPU s | peak RSS MiB | load avg start -> end | others' CPU s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in ordered:
        c = r.get("corpus") or {}
        others = sum(s.get("others_cpu_s") or 0.0 for s in r["stages"].values())
        lines.append(f"| {run_key(r['scale'], r['workers'])} | {r['sources']} | "
                     f"{_fmt((c.get('bytes') or 0) / 1e6, '.0f')} ({_fmt((c.get('text_bytes') or 0) / 1e6, '.0f')}) | "
                     f"{c.get('repos', '-')} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['peak_rss_mib']:.0f} | "
                     f"{r['loadavg_start'][0]} -> {r['loadavg_end'][0]} | {others:.0f} |"
                     + (f" error: {r['error']}" if r.get("error") else ""))
    scaled = [r for r in ordered if r["workers"] == FIT_WORKERS]
    fit = results.get("fits") or {}
    if scaled:
        lines += ["", f"Per stage, {FIT_WORKERS} workers; each cell: wall s / CPU s / peak RSS MiB (input MB).", "",
                  "| Stage | " + " | ".join(f"{r['scale']}x" for r in scaled)
                  + " | CPU exponent | wall exponent | memory exponent |",
                  "|---|" + "---|" * len(scaled) + "---|---|---|"]
        for stage in (*DATA_STAGES, "total"):
            cells = []
            for r in scaled:
                s = r["stages"].get(stage) if stage != "total" else {
                    "wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "peak_rss_mib": r["peak_rss_mib"],
                    "in_bytes": (r.get("corpus") or {}).get("bytes")}
                cells.append("-" if not s else f"{s['wall_s']:.1f} / {s['cpu_s']:.1f} / {s['peak_rss_mib']:.0f} "
                             f"({_fmt((x_bytes(s) or 0) / 1e6, '.0f')})")
            e = fit.get(stage) or {}
            lines.append(f"| {stage} | " + " | ".join(cells) + f" | {_fmt(e.get('cpu_exponent'))} | "
                         f"{_fmt(e.get('wall_exponent'))} | {_fmt(e.get('memory_exponent'))} |")
    if scaled:
        lines += ["", "The stage's own clock (reports/timings: the flow's work, without interpreter start, Prefect "
                  "flow setup, the gate and DVC's hashing, which the process tree above includes), and the CPU "
                  "time of the tree split by a straight-line fit into a fixed part and a part per 100 MB of input.", "",
                  "| Stage | " + " | ".join(f"{r['scale']}x flow s" for r in scaled)
                  + " | flow exponent | CPU fixed s | CPU s per 100 MB |",
                  "|---|" + "---|" * len(scaled) + "---|---|---|"]
        for stage in (*DATA_STAGES, "total"):
            e = fit.get(stage) or {}
            by_scale = {p["scale"]: p for p in e.get("points") or []}
            cells = [_fmt((by_scale.get(r["scale"]) or {}).get("flow_s"), ".1f") for r in scaled]
            lines.append(f"| {stage} | " + " | ".join(cells) + f" | {_fmt(e.get('flow_exponent'))} | "
                         f"{_fmt(e.get('cpu_fixed_s'), '.1f')} | {_fmt(e.get('cpu_s_per_100mb'), '.1f')} |")
    sp = results.get("speedups") or {}
    if sp:
        lines += ["", "Two workers against one (same corpus): wall(1 worker) / wall(2 workers); CPU and peak RSS "
                  "of 2 workers relative to 1.", "",
                  "| Stage | " + " | ".join(f"{k}x: wall 1w -> 2w s | speedup | CPU ratio | RSS ratio" for k in sorted(sp))
                  + " |", "|---|" + "---|---|---|---|" * len(sp)]
        for stage in (*DATA_STAGES, "total"):
            cells = []
            for k in sorted(sp):
                v = sp[k].get(stage)
                cells.append("- | - | - | -" if not v else f"{v['wall_1w']:.1f} -> {v['wall_2w']:.1f} | "
                             f"{_fmt(v['speedup'])}x | {_fmt(v['cpu_ratio'])} | {_fmt(v['peak_rss_ratio'])}")
            lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    replaced = results.get("replaced") or {}
    if replaced:
        lines += ["", "Re-measured (`--update`), the earlier measurements: " + "; ".join(
            f"{k} at {r.get('started_at')}: wall {r['wall_s']:.0f} s, CPU {r['cpu_s']:.0f} s, load "
            f"{r['loadavg_start'][0]} -> {r['loadavg_end'][0]}" + (f" (failed: {r['error']})" if r.get("error") else "")
            for k, rs in sorted(replaced.items()) for r in rs) + "."]
    skipped = results.get("skipped") or {}
    if skipped:
        lines += ["", "Not measured: " + "; ".join(f"{k} ({v})" for k, v in sorted(skipped.items())) + "."]
    sentences = summary_sentences(results)
    if sentences:
        lines += ["", " ".join(sentences)]
    lines.append("")
    return "\n".join(lines)


def replace_section(markdown: str, section: str, heading: str = HEADING) -> str:
    """`markdown` with its `heading` section (to the next `## ` heading) replaced, or appended."""
    lines = markdown.split("\n")
    try:
        start = lines.index(heading)
    except ValueError:
        return markdown.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "\n".join(lines[end:])
    head = "\n".join(lines[:start]).rstrip("\n")
    return head + "\n\n" + section.rstrip("\n") + "\n" + ("\n" + rest if rest.strip() else "")


def with_section(markdown: str, results_json: Path) -> str:
    """What `make bench` calls after rendering RESULTS.md: keep this section when its results exist."""
    path = results_json.with_name(Path(RESULTS_JSON).name)
    if not path.is_file():
        return markdown
    return replace_section(markdown, section_markdown(json.loads(path.read_text(encoding="utf-8"))))


# --- entry point ------------------------------------------------------------------------------------

def parse_runs(values: Sequence[str]) -> list[tuple[int, int]]:
    out = []
    for v in values:
        try:
            scale, workers = (int(x) for x in v.lower().split("x"))
        except ValueError:
            raise SystemExit(f"--runs: {v!r} is not SCALExWORKERS (e.g. 4x2)") from None
        if scale not in SCALES or workers < 1:
            raise SystemExit(f"--runs: {v!r}: scale must be one of {SCALES}, workers >= 1")
        out.append((scale, workers))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.pipeline_scaling", description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="?", default="run", choices=("run", "sizes", "render"))
    ap.add_argument("--runs", nargs="+", default=[f"{s}x{w}" for s, w in DEFAULT_RUNS],
                    help="SCALExWORKERS, in order (default: %(default)s)")
    ap.add_argument("--scale", type=int, default=4, choices=SCALES, help="`sizes`: the corpus to size")
    ap.add_argument("--budget-min", type=float, default=40.0,
                    help="skip a run whose estimated end falls after this many minutes (the last default run, "
                         "4x1, is the optional one)")
    ap.add_argument("--timeout-s", type=float, default=1800.0, help="bound on one stage")
    ap.add_argument("--work-dir", default=WORK_DIR)
    ap.add_argument("--results-json", default=RESULTS_JSON)
    ap.add_argument("--results-md", default=RESULTS_MD)
    ap.add_argument("--update", action="store_true", help="merge the measured runs into the existing JSON")
    ap.add_argument("--keep", action="store_true", help="keep the project copies")
    return ap.parse_args(argv)


def estimate_s(scale: int, workers: int, runs: dict[str, dict[str, Any]]) -> float | None:
    """Wall time a run is expected to take, from those already measured (None when nothing to go by):
    a run of the same scale, times the 1-vs-2-worker wall ratio seen at a smaller scale (else the worker
    ratio); without one, the largest run measured scaled linearly."""
    ok = {k: r for k, r in runs.items() if "error" not in r}
    same = [r for r in ok.values() if r["scale"] == scale]
    if same:
        r = same[0]
        pairs = [(ok[run_key(s, workers)], ok[run_key(s, r["workers"])]) for s in SCALES
                 if run_key(s, workers) in ok and run_key(s, r["workers"]) in ok]
        factor = pairs[-1][0]["wall_s"] / pairs[-1][1]["wall_s"] if pairs else max(1.0, r["workers"] / workers)
        return r["wall_s"] * factor
    if ok:
        r = max(ok.values(), key=lambda r: r["scale"])
        return r["wall_s"] * scale / r["scale"] * max(1.0, r["workers"] / workers)
    return None


def finish(results: dict[str, Any]) -> dict[str, Any]:
    results["fits"] = fits(results["runs"])
    results["speedups"] = speedups(results["runs"])
    return rounded(results)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from benchmarks.run import machine_info
    from flows.audit import shared_caches
    from flows.server import free_port, start, stop
    from tasks.common.io import atomic_write_json, atomic_write_text
    from tasks.common.params import load_params

    def log(msg: str) -> None:
        print(f"[scaling {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    results_json, results_md = ROOT / args.results_json, ROOT / args.results_md
    if args.command == "render":
        results = finish(json.loads(results_json.read_text(encoding="utf-8")))
        atomic_write_json(results_json, results)
        atomic_write_text(results_md, replace_section(results_md.read_text(encoding="utf-8"), section_markdown(results)))
        return 0
    params = shared_caches(load_params(ROOT / "params.yaml"))
    crawl_cache, quality_cache = params["crawl"]["cache_dir"], params["quality"]["decontam"]["cache_dir"]
    parts, default = load_parts(), default_specs()
    if args.command == "sizes":
        sizes = source_sizes(corpus_specs(args.scale, default, parts), params["crawl"], log=log)
        print(json.dumps({"sources": len(sizes), "unpacked_mib": sum(s["unpacked_bytes"] for s in sizes) / MIB,
                          "text_mib": sum(s["text_bytes"] for s in sizes) / MIB,
                          "errors": [s["source"] for s in sizes if s["error"]]}, indent=1))
        return 0

    wanted = parse_runs(args.runs)
    started, t0 = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), time.perf_counter()
    machine = machine_info(ROOT)
    log("filling the crawl download cache (untimed)")
    warm_t = time.perf_counter()
    sizes = source_sizes(corpus_specs(max(s for s, _ in wanted), default, parts), params["crawl"],
                         log=lambda m: None)
    warm = {"seconds": time.perf_counter() - warm_t, "sources": len(sizes),
            "downloaded_bytes": sum(s["downloaded_bytes"] for s in sizes),
            "errors": [s["source"] for s in sizes if s["error"]]}
    corpora = {str(k): {"sources": len(corpus_specs(k, default, parts)),
                        "unpacked_bytes": sum(s["unpacked_bytes"] for s in sizes[:len(corpus_specs(k, default, parts))])}
               for k in sorted({s for s, _ in wanted})}
    work = ROOT / args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    home, port = work / "prefect-home", free_port()
    api_url = start(port=port, home=home)
    server_pid = int((home / f"server-{port}.pid").read_text())
    runs: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    try:
        for scale, workers in wanted:
            elapsed = time.perf_counter() - t0
            est = estimate_s(scale, workers, runs)
            if est is not None and elapsed + est > args.budget_min * 60:
                skipped[run_key(scale, workers)] = (f"over the {args.budget_min:.0f} min budget: {elapsed / 60:.0f} "
                                                    f"min spent, ~{est / 60:.0f} min expected")
                log(f"skip {run_key(scale, workers)}: {skipped[run_key(scale, workers)]}")
                continue
            specs = corpus_specs(scale, default, parts)
            runs[run_key(scale, workers)] = run_one(
                scale, workers, specs, work, api_url=api_url, server_pid=server_pid, crawl_cache=crawl_cache,
                quality_cache=quality_cache, timeout_s=args.timeout_s, keep=args.keep, log=log)
    finally:
        stop(port=port, home=home, wait_s=10)
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results: dict[str, Any] = {
        "schema": 1, "started_at": started, "seconds": time.perf_counter() - t0,
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine,
        "warm_cache": warm, "corpora": corpora, "runs": runs, "skipped": skipped,
        "settings": {"sample_s": SAMPLE_S, "fit_workers": FIT_WORKERS, "stage_io": STAGE_IO,
                     "runs": [run_key(s, w) for s, w in wanted]},
    }
    if args.update and results_json.is_file():
        old = json.loads(results_json.read_text(encoding="utf-8"))
        results["runs"] = {**old.get("runs", {}), **runs}
        results["replaced"] = {**old.get("replaced", {})}
        for key in runs:
            if key in old.get("runs", {}):
                r = old["runs"][key]
                results["replaced"].setdefault(key, []).append(
                    {k: r.get(k) for k in ("started_at", "wall_s", "cpu_s", "peak_rss_mib", "loadavg_start",
                                           "loadavg_end", "error")})
        results["corpora"] = {**old.get("corpora", {}), **corpora}
        results["skipped"] = {k: v for k, v in {**old.get("skipped", {}), **skipped}.items() if k not in runs}
    results = finish(results)
    atomic_write_json(results_json, results)
    md = results_md.read_text(encoding="utf-8") if results_md.is_file() else "# Benchmark results\n"
    atomic_write_text(results_md, replace_section(md, section_markdown(results)))
    log(f"wrote {args.results_json} and the section of {args.results_md} in {results['seconds'] / 60:.1f} min")
    print(section_markdown(results))
    return 0 if all("error" not in r for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
