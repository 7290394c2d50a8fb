"""`make bench-github`: the whole data pipeline on the 15 GitHub repositories, the way a user meets a new
corpus, and the governance figures (issue 18) on the default and GitHub corpora.

    python -m benchmarks.github_corpus [run] [--corpora github default] [--no-check]
    python -m benchmarks.github_corpus render        # the RESULTS.md sections from the JSON

GitHub corpus (../shared/corpora/github, crawled as `git` sources): a project copy (flows.audit.make_copy,
as tests and `make audit` build it) with the default params.yaml, only `crawl.manifest` and the shared
download and decontamination caches changed, its own Prefect server. Steps, each timed (wall, CPU of the
process tree, peak RSS; benchmarks.pipeline_scaling.measure_process):
  1. `python -m flows.calibrate warn` and `dvc repro pack` (crawl..pack; gate misses reported, not fatal),
  2. `python -m flows.calibrate` (bands of that run, gates back to enforce, run accepted),
  3. `dvc repro pack`: must exit 0 with every gate enforced and passed,
  4. `dedup.granularity: file` (dedup's gate in warn: the file unit moves its dropped share) and `dvc repro
     dedup`, to compare near-dedup drops by repository and by file.
From the accepted run: pass rates (next to the paper's 32.8% and the default corpus), filter drops by rule,
language mix after filter and after quality, order resolution by language, quality removals by reason with
their precision against benchmarks/quality_labels/github.tsv (benchmarks.quality_precision's scoring), the
two lodash snapshots' Jaccard (data/dedup_clusters.parquet; recomputed from the signatures and shingles when
they did not cluster), exact duplicates, secrets/PII by type, licences and licence-policy drops.

Default corpus (tasks/crawl/default_manifest.yaml): a copy with the default params, `dvc repro dedup`, then
the same granularity comparison, and `python -m benchmarks.license_agreement` (files vs registry licence).

Writes benchmarks/github_corpus.json and two sections of benchmarks/RESULTS.md. Exit 1 when a step fails,
the calibrated run is not green, or (unless --no-check) quality_precision's targets are missed.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = "benchmarks/results/github_corpus"
RESULTS_JSON = "benchmarks/github_corpus.json"
RESULTS_MD = "benchmarks/RESULTS.md"
GITHUB_HEADING = "## GitHub corpus"
GOVERNANCE_HEADING = "## Governance on the default and GitHub corpora"
PAPER_PASS_RATE = 0.328  # DeepSeek-Coder §2.1: the share of the crawl its filter keeps (the documented reference)
METRIC_STAGES = ("crawl", "filter", "redact", "order", "dedup", "quality")
LODASH = ("git/lodash/lodash", "git/lodash/lodash-2020")  # stable ids (repo id without @rev)
CORPORA = ("github", "default")
STEP_TIMEOUT_S = 3600.0

Log = Callable[[str], None]


# --- running steps in a project copy ----------------------------------------------------------------------

def make_copy(corpus: str, dest: Path, manifest: Path | None) -> Path:
    """A clean project copy: default params, shared download/decontamination caches, `manifest` if given."""
    from flows.audit import shared_caches
    from tasks.common.params import load_params
    from tests.support.project import make_project

    params = shared_caches(load_params(ROOT / "params.yaml"))
    overrides: dict[str, Any] = {"crawl": {"cache_dir": params["crawl"]["cache_dir"]},
                                 "quality": {"decontam": {"cache_dir": params["quality"]["decontam"]["cache_dir"]}}}
    if manifest is not None:
        overrides["crawl"]["manifest"] = str(manifest)
    shutil.rmtree(dest, ignore_errors=True)
    return make_project(dest, overrides)


def set_param(params_path: Path, dotted: str, value: Any) -> None:
    """Set one params.yaml key in place, comments and layout kept (ruamel round trip)."""
    from ruamel.yaml import YAML

    ry = YAML()
    data = ry.load(params_path.read_text(encoding="utf-8"))
    node = data
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    with params_path.open("w", encoding="utf-8") as fh:
        ry.dump(data, fh)


class Runner:
    """Runs the timed steps of one corpus in its copy, against one Prefect server."""

    def __init__(self, corpus: str, dest: Path, env: dict[str, str], log: Log):
        self.corpus, self.dest, self.env, self.log = corpus, dest, env, log
        self.steps: list[dict[str, Any]] = []

    def step(self, name: str, args: list[str], cwd: Path | None = None) -> dict[str, Any]:
        from benchmarks.pipeline_scaling import measure_process

        slug = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
        log_path = self.dest.parent / f"{len(self.steps) + 1:02d}-{slug}.log"
        log_path.unlink(missing_ok=True)
        self.log(f"{self.corpus}: {name}: {' '.join(args)}")
        m = measure_process([sys.executable, "-m", *args], cwd=cwd or self.dest, env=self.env, log_path=log_path,
                            timeout_s=STEP_TIMEOUT_S)
        shown = [str(Path(a).relative_to(ROOT)) if a.startswith(str(ROOT) + "/") else a for a in args]
        rec = {"name": name, "command": " ".join(["python -m", *shown]).replace("python -m dvc", "dvc"),
               **{k: m[k] for k in ("returncode", "timed_out", "wall_s", "cpu_s", "peak_rss_mib", "loadavg_start",
                                    "loadavg_end", "others_cpu_s")}}
        if m["returncode"] != 0:
            rec["log_tail"] = log_path.read_text(errors="replace")[-4000:]
        self.log(f"{self.corpus}: {name}: exit {m['returncode']}, wall {m['wall_s']:.0f} s, CPU {m['cpu_s']:.0f} s")
        self.steps.append(rec)
        return rec


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def stage_metrics(dest: Path) -> dict[str, Any]:
    return {s: read_json(dest / "metrics" / f"{s}.json") for s in METRIC_STAGES}


def gate_results(dest: Path) -> dict[str, Any]:
    """reports/gates/<name>.json of the copy: outcome, mode and the missed expectations of each gate."""
    out = {}
    for path in sorted((dest / "reports" / "gates").glob("*.json")):
        g = read_json(path)
        out[path.stem] = {"success": g.get("success"), "mode": g.get("mode"), "outcome": g.get("outcome"),
                          "misses": [{k: r.get(k) for k in ("expectation", "column", "condition", "observed", "bounds")}
                                     for r in g.get("results") or [] if not r.get("success")],
                          "notes": g.get("notes") or []}
    return out


def gate_modes(dest: Path) -> dict[str, str]:
    from expectations.baseline import GATED

    params = yaml.safe_load((dest / "params.yaml").read_text(encoding="utf-8"))
    return {s: ((params.get(s) or {}).get("gate") or {}).get("mode", "enforce") for s in GATED}


def gate_bands(dest: Path) -> dict[str, Any]:
    """The gate blocks of the copy's params.yaml (what the calibration wrote)."""
    from expectations.baseline import GATED

    params = yaml.safe_load((dest / "params.yaml").read_text(encoding="utf-8"))
    return {s: (params.get(s) or {}).get("gate") for s in GATED}


def granularity_file(run: Runner) -> dict[str, Any]:
    """Near-dedup again with files as the unit; the dedup gate in warn (the file unit moves its dropped share)."""
    run.step("dedup gate warn", ["flows.calibrate", "warn", "--stages", "dedup"])
    set_param(run.dest / "params.yaml", "dedup.granularity", "file")
    step = run.step("dvc repro dedup (file)", ["dvc", "repro", "dedup"])
    return {"returncode": step["returncode"], "dedup": read_json(run.dest / "metrics" / "dedup.json"),
            "gate": gate_results(run.dest).get("dedup")}


# --- figures from the copy's outputs ------------------------------------------------------------------------

def quality_precision(dest: Path, corpus_bytes: int, labels_path: Path) -> dict[str, Any]:
    """The pipeline's own quality removals (data/quality_decisions) scored against the reviewer labels."""
    import pyarrow.parquet as pq

    from benchmarks.quality_precision import MAX_WRONG_SHARE, MIN_PRECISION, failures, load_labels, score
    from tasks.quality.screen import REASONS

    decisions = [row for shard in sorted((dest / "data" / "quality_decisions").glob("*.parquet"))
                 for row in pq.read_table(shard).to_pylist()]
    report = score(decisions, load_labels(labels_path), corpus_bytes, REASONS)
    report["labels"] = str(labels_path.relative_to(ROOT)) if labels_path.is_relative_to(ROOT) else str(labels_path)
    report["failures"] = failures(report, MIN_PRECISION, MAX_WRONG_SHARE)
    return report


def lodash_pair(dest: Path) -> dict[str, Any]:
    """The two lodash snapshots in near-dedup: their cluster rows, else Jaccard recomputed as the stage would."""
    import pyarrow.parquet as pq

    from benchmarks.quality_precision import stable_repo

    clusters = pq.read_table(dest / "data" / "dedup_clusters.parquet").to_pylist()
    rows = [r for r in clusters if stable_repo(r["repo"]) in LODASH]
    cluster_of = {stable_repo(r["repo"]): r["cluster"] for r in rows}
    if len(cluster_of) == 2 and len(set(cluster_of.values())) == 1:
        dropped = next((r for r in rows if not r["kept"]), None)
        if dropped is not None:
            return {"clustered": True, "repos": sorted({r["repo"] for r in rows}), "kept": dropped["kept_repo"],
                    "dropped": dropped["repo"], "est_jaccard": dropped["est_jaccard"],
                    "exact_jaccard": dropped["exact_jaccard"], "source": "data/dedup_clusters.parquet"}
    out = recompute_pair(dest, LODASH)
    return {"clustered": False, "kept": None, "dropped": None, **out,
            "source": "not in data/dedup_clusters.parquet: estimate from data/dedup_signatures, exact from the "
                      "shingles of data/ordered (tasks.dedup.shards)"}


def recompute_pair(dest: Path, stable_ids: tuple[str, str]) -> dict[str, Any]:
    """Estimated and exact repo-level Jaccard of two repositories, from the stage's signatures and shingles."""
    import numpy as np
    import pyarrow.parquet as pq

    from benchmarks.quality_precision import stable_repo
    from tasks.dedup.cluster import exact_jaccard
    from tasks.dedup.config import config_from_params
    from tasks.dedup.shards import load_shingles
    from tasks.dedup.signature import estimate_jaccard, unpack_many

    cfg = config_from_params(yaml.safe_load((dest / "params.yaml").read_text(encoding="utf-8"))["dedup"])
    sigs: dict[str, np.ndarray] = {}
    for path in sorted((dest / "data" / "dedup_signatures").glob("*.parquet")):
        for r in pq.read_table(path, columns=["repo", "signature"]).to_pylist():
            if stable_repo(r["repo"]) in stable_ids and r["signature"] is not None:
                sigs[r["repo"]] = unpack_many([r["signature"]], cfg.num_perm)[0]
    shingles: dict[str, np.ndarray] = {}
    for path in sorted((dest / "data" / "ordered").glob("*.parquet")):
        repos = set(pq.read_table(path, columns=["repo"]).column("repo").to_pylist())
        keys = [(r, None, None) for r in repos if stable_repo(r) in stable_ids]
        if keys:
            shingles.update({k[0]: v for k, v in load_shingles(path, keys, cfg).items()})
    repos = sorted(sigs)
    if len(repos) != 2 or sorted(shingles) != repos:
        return {"repos": repos, "est_jaccard": None, "exact_jaccard": None}
    a, b = repos
    return {"repos": repos, "est_jaccard": float(estimate_jaccard(sigs[a], sigs[b])),
            "exact_jaccard": exact_jaccard(shingles[a], shingles[b])}


def governance(metrics: dict[str, Any], file_run: dict[str, Any] | None) -> dict[str, Any]:
    """Issue 18's figures of one corpus: exact duplicates, near-dedup by unit, secrets/PII, licences."""
    d, redact, crawl, filt = metrics["dedup"], metrics["redact"], metrics["crawl"], metrics["filter"]
    content_in = sum(v["bytes"] for v in (metrics["order"].get("mix") or {}).values())

    def near(m: dict[str, Any]) -> dict[str, Any]:
        """Near-dedup drops: files and content bytes in, less those kept, less the exact copies removed.
        (metrics/dedup.json `near.files_dropped`/`bytes_dropped` count only files dropped one by one, not the
        repositories repo granularity drops whole: kept beside as `metric_*`.)"""
        n, ex = m.get("near") or {}, m.get("exact") or {}
        kept = sum(v["bytes"] for v in (m.get("mix") or {}).values())
        return {"granularity": m.get("granularity"), "docs": n.get("docs"), "docs_dropped": n.get("docs_dropped"),
                "repos_dropped": m.get("repos_dropped"),
                "files_dropped": m["files_in"] - m["files_kept"] - int(ex.get("files_removed") or 0),
                "bytes_dropped": content_in - kept - int(ex.get("bytes_removed") or 0),
                "metric_files_dropped": n.get("files_dropped"), "metric_bytes_dropped": n.get("bytes_dropped"),
                "exact_files_removed": ex.get("files_removed"), "total_files_dropped": m["files_in"] - m["files_kept"],
                "total_bytes_dropped": content_in - kept,
                "files_in": m.get("files_in"), "content_bytes_in": content_in}

    exact = d.get("exact") or {}
    return {
        "exact": {k: exact.get(k) for k in ("files_hashed", "groups", "files_dropped", "bytes_dropped", "file_share",
                                            "byte_share", "files_removed", "bytes_removed")},
        "near": {"repo": near(d), "file": near(file_run["dedup"]) if file_run and file_run.get("dedup") else None},
        "redact": {k: redact.get(k) for k in ("files", "files_redacted", "files_redacted_share", "findings", "by_type",
                                              "by_detector", "residual", "scan_errors")},
        "licenses": crawl.get("licenses") or {},
        "license_policy": filt.get("license_policy") or {},
        "repos": crawl.get("repos"),
    }


def github_figures(dest: Path, labels: Path) -> dict[str, Any]:
    """Everything the GitHub table shows, from the accepted (green) run's outputs."""
    m = stage_metrics(dest)
    return {"metrics": m, "precision": quality_precision(dest, int(m["quality"]["bytes"]["in"]), labels),
            "lodash": lodash_pair(dest)}


# --- the two corpora -----------------------------------------------------------------------------------

def run_github(work: Path, labels: Path, api_url: str, log: Log) -> dict[str, Any]:
    from benchmarks.quality_precision import MANIFEST, github_specs
    from tests.support.project import project_env

    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(github_specs(ROOT / MANIFEST), sort_keys=False), encoding="utf-8")
    dest = make_copy("github", work / "project", manifest)
    run = Runner("github", dest, {**project_env(dest), "PREFECT_API_URL": api_url}, log)
    out: dict[str, Any] = {"corpus": "github", "manifest": MANIFEST, "steps": run.steps}
    run.step("gates to warn", ["flows.calibrate", "warn"])
    first = run.step("dvc repro pack (warn)", ["dvc", "repro", "pack"])
    out["gates_warn_run"] = gate_results(dest)
    if first["returncode"] != 0:
        out["error"] = f"first run (gates in warn): dvc repro pack exit {first['returncode']}"
        return out
    out["default_bands_missed"] = sorted(n for n, g in out["gates_warn_run"].items() if not g["success"])
    cal = run.step("calibrate", ["flows.calibrate"])
    out["calibrated_bands"] = gate_bands(dest)
    if cal["returncode"] != 0:
        out["error"] = f"python -m flows.calibrate exit {cal['returncode']}"
        return out
    second = run.step("dvc repro pack (enforce)", ["dvc", "repro", "pack"])
    out["gates"], out["modes"] = gate_results(dest), gate_modes(dest)
    out["green"] = (second["returncode"] == 0 and all(m == "enforce" for m in out["modes"].values())
                    and all(g["success"] and g["mode"] == "enforce" for g in out["gates"].values()))
    if second["returncode"] != 0:
        out["error"] = f"calibrated run: dvc repro pack exit {second['returncode']}"
        return out
    out.update(github_figures(dest, labels))
    out["granularity_file"] = granularity_file(run)
    return out


def run_default(work: Path, api_url: str, log: Log) -> dict[str, Any]:
    from flows.audit import shared_caches
    from tasks.common.params import load_params
    from tests.support.project import project_env

    from benchmarks.pipeline_scaling import default_specs, source_sizes

    params = shared_caches(load_params(ROOT / "params.yaml"))
    log("default: filling the crawl download cache (untimed, as bench-scaling does)")
    t0 = time.perf_counter()
    sizes = source_sizes(default_specs(), params["crawl"], log=lambda m: None)
    warm = {"seconds": round(time.perf_counter() - t0, 1), "downloaded_bytes": sum(s["downloaded_bytes"] for s in sizes),
            "errors": [s["source"] for s in sizes if s["error"]]}
    dest = make_copy("default", work / "project", None)
    run = Runner("default", dest, {**project_env(dest), "PREFECT_API_URL": api_url}, log)
    out: dict[str, Any] = {"corpus": "default", "manifest": "tasks/crawl/default_manifest.yaml", "steps": run.steps,
                           "warm_cache": warm}
    first = run.step("dvc repro dedup", ["dvc", "repro", "dedup"])
    out["gates"] = gate_results(dest)
    if first["returncode"] != 0:
        out["error"] = f"dvc repro dedup exit {first['returncode']}"
        return out
    out["metrics"] = {k: v for k, v in stage_metrics(dest).items() if k != "quality"}
    out["granularity_file"] = granularity_file(run)
    agreement = work / "license_agreement.json"
    cache = params["crawl"]["cache_dir"]
    la = run.step("licence agreement", ["benchmarks.license_agreement", "--json", str(agreement), "--cache-dir", cache],
                  cwd=ROOT)
    if la["returncode"] == 0:
        out["license_agreement"] = read_json(agreement).get("summary")
    return out


# --- markdown ---------------------------------------------------------------------------------------------

def _pct(x: Any, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def _num(x: Any, spec: str = ",") -> str:
    return "-" if x is None else format(x, spec)


def _jac(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def _steps_table(steps: list[dict[str, Any]]) -> list[str]:
    lines = ["| step | command | exit | wall s | CPU s | peak RSS MiB |", "|---|---|---|---|---|---|"]
    for s in steps:
        lines.append(f"| {s['name']} | `{s['command']}` | {s['returncode']}{' (timed out)' if s.get('timed_out') else ''}"
                     f" | {s['wall_s']:.0f} | {s['cpu_s']:.0f} | {s['peak_rss_mib']:.0f} |")
    if steps:
        lines.append(f"| total | | | {sum(s['wall_s'] for s in steps):.0f} | {sum(s['cpu_s'] for s in steps):.0f} | "
                     f"{max(s['peak_rss_mib'] for s in steps):.0f} |")
    return lines


def _misses(gate: dict[str, Any]) -> str:
    """`lang == 'Java'` 0.2319 not in [0.0, 0.12], ...: each missed value once (min and max checks alike)."""
    seen: dict[tuple[Any, Any], str] = {}
    for m in gate.get("misses") or []:
        b = m.get("bounds") or {}
        bounds = f"[{b.get('min_value')}, {b.get('max_value')}]" if isinstance(b, dict) else str(b)
        seen.setdefault((m.get("column"), m.get("condition")),
                        f"{m.get('condition') or m.get('column')} {m.get('observed')} not in {bounds}")
    return "; ".join(seen.values())


def _header(results: dict[str, Any]) -> str:
    m = results.get("machine") or {}
    return (f"Written by `make bench-github` (`python -m benchmarks.github_corpus`) on {results.get('finished_at')}, "
            f"commit `{str(m.get('git_commit') or '?')[:12]}`{' (uncommitted changes)' if m.get('git_dirty') else ''}; "
            f"{m.get('cpus_usable', '?')} usable cores shared with other jobs (wall time moves with their load; CPU "
            "seconds are of each step's whole process tree).")


def github_section(results: dict[str, Any]) -> str:
    """The "GitHub corpus" section of RESULTS.md."""
    g = (results.get("corpora") or {}).get("github") or {}
    d = (results.get("corpora") or {}).get("default") or {}
    lines = [GITHUB_HEADING, "", _header(results) + " The 15 repositories of ../shared/corpora/github in a project "
             "copy with the default params.yaml (only `crawl.manifest` and the shared caches set), run the way a user "
             "meets a new corpus (README, \"Quality gates on your own corpus\"):", ""]
    lines += _steps_table(g.get("steps") or [])
    if g.get("error"):
        lines += ["", f"**Failed:** {g['error']}"]
    missed = g.get("default_bands_missed")
    if missed is not None:
        warned = g.get("gates_warn_run") or {}
        lines += ["", "Gates that missed the default manifest's bands on the first run (warn mode): "
                  + (", ".join(f"`{n}` ({_misses(warned.get(n) or {})})" for n in missed) or "none")
                  + ". After `python -m flows.calibrate`, "
                  + ("every gate enforced and passed: **green**." if g.get("green") else
                     "**not green**: " + ", ".join(f"`{n}` {v['outcome']}" for n, v in (g.get("gates") or {}).items()
                                                   if not v["success"] or v["mode"] != "enforce"))]
    m = g.get("metrics")
    if not m:
        return "\n".join(lines) + "\n"
    f, dm = m["filter"], (d.get("metrics") or {}).get("filter") or {}
    lines += ["", "Filter pass rate (the paper's reference: DeepSeek-Coder keeps 32.8% of its crawl):", "",
              "| | paper | default corpus | GitHub corpus |", "|---|---|---|---|",
              f"| by bytes | {_pct(PAPER_PASS_RATE)} | {_pct(dm.get('pass_rate_bytes'))} | {_pct(f['pass_rate_bytes'])} |",
              f"| by files | - | {_pct(dm.get('pass_rate_files'))} | {_pct(f['pass_rate_files'])} |",
              f"| crawled | - | {_num(dm.get('files_in'))} files, "
              f"{_num(dm['bytes_in'] / 1e6 if dm.get('bytes_in') else None, '.1f')} MB | "
              f"{_num(f['files_in'])} files, {f['bytes_in'] / 1e6:.1f} MB |"]
    lines += ["", "Filter drops by rule (GitHub corpus):", "", "| rule | files | bytes | share of crawled bytes |",
              "|---|---|---|---|"]
    for rule, v in sorted(f["drops"].items(), key=lambda kv: -kv[1]["bytes"]):
        lines.append(f"| {rule} | {_num(v['files'])} | {_num(v['bytes'])} | {_pct(v['bytes'] / f['bytes_in'])} |")
    mix = m["quality"].get("mix") or {}
    mix_total = sum(v["bytes"] for v in mix.values()) or 1
    after_q = {lang: v["bytes"] / mix_total for lang, v in mix.items()}
    langs = sorted(set(f["language_share_kept"]) | set(after_q),
                   key=lambda lang: -max(f["language_share_kept"].get(lang, 0.0), after_q.get(lang, 0.0)))
    lines += ["", "Language mix, share of bytes, after the filter (kept bytes) and after quality (data/clean, so "
              "after dedup too):", "",
              "| language | after filter | after quality |", "|---|---|---|"]
    lines += [f"| {lang} | {_pct(f['language_share_kept'].get(lang), 2)} | {_pct(after_q.get(lang), 2)} |" for lang in langs]
    o = m["order"]
    lines += ["", f"Order: dependency statements resolved to a file of the same repository, "
              f"{_pct(o.get('resolution_rate'))} overall ({_num(o.get('deps_resolved'))} of "
              f"{_num(o.get('deps_found'))}):", "",
              "| language | files | dependencies found | resolved | resolution rate |", "|---|---|---|---|---|"]
    for lang, v in sorted((o.get("languages") or {}).items(), key=lambda kv: -kv[1].get("deps_found", 0)):
        lines.append(f"| {lang} | {_num(v.get('files'))} | {_num(v.get('deps_found'))} | {_num(v.get('deps_resolved'))} "
                     f"| {_pct(v.get('resolution_rate'))} |")
    p = g.get("precision")
    if p:
        from benchmarks.quality_precision import MAX_WRONG_SHARE, MIN_PRECISION
        from benchmarks.quality_precision import markdown as precision_markdown

        q = m["quality"]
        lines += ["", f"Quality: {_num(q['files']['removed'])} of {_num(q['files']['in'])} files removed "
                  f"({_pct(q['files']['removed_share'], 2)}), {_pct(q['bytes']['removed_share'], 2)} of the bytes. "
                  f"Removals by reason, precision = labelled drop / labelled, against `{p.get('labels')}` "
                  "(benchmarks.quality_precision's scoring; reasons with no removal omitted):", ""]
        shown = {**p, "reasons": {k: v for k, v in p["reasons"].items() if v["removed"]}}
        lines += [f"- {' · '.join(line.strip().split(chr(9)))}" if line.startswith("  ") else line
                  for line in precision_markdown(shown).split("\n")]
        lines += ["", "Unlabelled removals: " + (f"**{len(p['unlabelled'])}** (listed above; add them to the labels)"
                                                 if p["unlabelled"] else "none") + ". Precision targets "
                  f"(quality_precision --check: >= {MIN_PRECISION} per screening reason, wrongly removed bytes "
                  f"< {MAX_WRONG_SHARE:.0%}): "
                  + ("met." if not p.get("failures") else "**missed**: " + "; ".join(p["failures"]) + ".")]
    lz = g.get("lodash")
    if lz:
        dd = m["dedup"]
        lines += ["", f"The two lodash snapshots in repository-level near-dedup (threshold {dd.get('threshold')}, "
                  f"{dd.get('verify')} verification): estimated Jaccard {_jac(lz.get('est_jaccard'))}, exact "
                  f"{_jac(lz.get('exact_jaccard'))}; "
                  + (f"clustered, kept `{lz['kept']}`, dropped `{lz['dropped']}`" if lz.get("clustered")
                     else "not clustered (both kept)") + f" (source: {lz.get('source')})."]
    lines.append("")
    return "\n".join(lines)


def _gov_rows(gov: dict[str, dict[str, Any]]) -> list[str]:
    names = list(gov)
    lines = ["| figure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def row(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
        cells = []
        for n in names:
            try:
                cells.append(fn(gov[n]))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("repositories", lambda x: _num(x["repos"]))
    row("exact duplicates: files (share)",
        lambda x: f"{_num(x['exact']['files_dropped'])} ({_pct(x['exact']['file_share'], 2)})")
    row("exact duplicates: bytes (share)",
        lambda x: f"{_num(x['exact']['bytes_dropped'])} ({_pct(x['exact']['byte_share'], 2)})")
    for unit in ("repo", "file"):
        row(f"near-dedup `granularity: {unit}`: repos / files / bytes dropped (share of bytes)",
            lambda x, u=unit: f"{_num(x['near'][u]['repos_dropped'])} / {_num(x['near'][u]['files_dropped'])} / "
                              f"{_num(x['near'][u]['bytes_dropped'])} "
                              f"({_pct(x['near'][u]['bytes_dropped'] / x['near'][u]['content_bytes_in'], 2)})")
        row(f"... metrics/dedup.json `near.files_dropped` / `bytes_dropped` ({unit})",
            lambda x, u=unit: f"{_num(x['near'][u]['metric_files_dropped'])} / {_num(x['near'][u]['metric_bytes_dropped'])}")
        row(f"... all dedup drops, exact + near ({unit}): files / bytes (share of bytes)",
            lambda x, u=unit: f"{_num(x['near'][u]['total_files_dropped'])} / {_num(x['near'][u]['total_bytes_dropped'])} "
                              f"({_pct(x['near'][u]['total_bytes_dropped'] / x['near'][u]['content_bytes_in'], 2)})")
    row("files with a redaction (share)",
        lambda x: f"{_num(x['redact']['files_redacted'])} ({_pct(x['redact']['files_redacted_share'], 2)})")
    for t in ("KEY", "PASSWORD", "EMAIL", "IP_ADDRESS"):
        row(f"secrets/PII found: {t}", lambda x, t=t: _num(x["redact"]["by_type"].get(t, 0)))
    row("residual after redaction", lambda x: _num(x["redact"]["residual"]))
    row("licence categories (repos)", lambda x: ", ".join(f"{k} {v}" for k, v in x["licenses"]["by_category"].items()))
    row("licence-policy drops (repos)", lambda x: _num(x["license_policy"].get("repos_dropped", 0))
        + "".join(f"; {k} {v}" for k, v in (x["license_policy"].get("by_license") or {}).items()))
    row("detected vs declared, same / covers", lambda x: f"{_pct(x['licenses'].get('agreement_same'))} / "
                                                          f"{_pct(x['licenses'].get('agreement_covers'))} of "
                                                          f"{x['licenses'].get('declared_and_detected')}")
    return lines


def governance_section(results: dict[str, Any]) -> str:
    """The "Governance on the default and GitHub corpora" section of RESULTS.md."""
    corpora = results.get("corpora") or {}
    gov = {("default corpus" if k == "default" else "GitHub corpus"): corpora[k]["governance"]
           for k in ("default", "github") if (corpora.get(k) or {}).get("governance")}
    lines = [GOVERNANCE_HEADING, "", _header(results) + " Default corpus: tasks/crawl/default_manifest.yaml in a "
             "project copy with the default params, `dvc repro dedup`; GitHub corpus: the calibrated run of the section "
             "above. Near-dedup `file`: the same copy after `dedup.granularity: file` and `dvc repro dedup` (dedup's "
             "gate in warn). Near-dedup files and bytes: files in less files kept less exact copies removed; content "
             "bytes of data/ordered (order's `mix`) less those kept (dedup's `mix`) less exact bytes removed; "
             "metrics/dedup.json's own `near` counts are shown beneath (they leave out repositories dropped whole). "
             "Exact duplicates: the exact step's own counts over the whole corpus (`exact.files_dropped`, `byte_share`; "
             "copies inside a repository near-dedup drops whole are counted here too). Secrets/PII: "
             "metrics/redact.json (counts by type only, never values). Licences: "
             "metrics/crawl.json `licenses` (one detection per repository), licence-policy drops: metrics/filter.json "
             "`license_policy` (`filter.licenses.allow`: permissive, no_license).", ""]
    d = corpora.get("default") or {}
    if d.get("steps"):
        lines += ["Default corpus steps:", ""] + _steps_table(d["steps"]) + [""]
    if d.get("error"):
        lines += [f"**Default corpus failed:** {d['error']}", ""]
    if gov:
        lines += _gov_rows(gov) + [""]
        for key in ("default", "github"):
            fg = ((corpora.get(key) or {}).get("granularity_file") or {}).get("gate")
            if fg:
                lines.append(f"Dedup gate at `granularity: file`, {key} corpus: {fg['outcome']}"
                             + (f" ({_misses(fg)}: the gate judges the share of repositories dropped)"
                                if fg["misses"] else "")
                             + ".")
        lines.append("")
        for name, x in gov.items():
            expr = x["licenses"].get("by_expression") or {}
            ordered = sorted(expr.items(), key=lambda kv: (-kv[1], kv[0]))
            lines.append(f"SPDX expressions, {name}: " + ", ".join(f"`{k}` {v}" for k, v in ordered) + ".")
            diff = x["licenses"].get("differences") or []
            if diff:
                lines.append(f"Crawl-time detection (files and manifests) not the same as the declared licence, {name}: "
                             + "; ".join(f"{r['repo']} declared `{r.get('declared')}`, detected `{r.get('detected')}`"
                                         f"{'' if r.get('covers') else ' (does not name every declared licence)'}"
                                         for r in diff) + ".")
        lines.append("")
    la = d.get("license_agreement")
    if la:
        lines += [f"Licence found in the files against the registry-declared licence (`python -m "
                  f"benchmarks.license_agreement`, default manifest): {la['sources']} packages, {la['declaring']} "
                  f"declare one, {la['compared']} with a licence text recognised. Same licences: {la['agree']}/"
                  f"{la['compared']} ({_pct(la['agreement'])}); the files name every declared licence: "
                  f"{la['confirmed']}/{la['compared']} ({_pct(la['confirmed_share'])}). Disagreements: "
                  + ("none." if not la.get("disagreements") else "")]
        if la.get("disagreements"):
            lines += ["", "| package | declared (registry) | licence files | full detection | files name every declared |",
                      "|---|---|---|---|---|"]
            lines += [f"| {r['repo']} | {r.get('declared')} | {r.get('from_files')} | {r.get('detected')} | "
                      f"{'yes' if r.get('confirmed') else 'no'} |" for r in la["disagreements"]]
        nl = la.get("no_license_text") or []
        if nl:
            lines += ["", "Declaring a licence without a licence text recognised (not compared): "
                      + ", ".join(f"{r['repo']} ({r.get('declared')})" for r in nl) + "."]
        nd = la.get("declaring_no_license") or []
        if nd:
            lines += ["", "A registry field that names no licence (not compared: it can neither agree nor disagree): "
                      + ", ".join(f"{r['repo']} ({r.get('declared')!r}; files: {r.get('from_files')})" for r in nd)
                      + "."]
        lines.append("")
    return "\n".join(lines)


def finish(results: dict[str, Any]) -> dict[str, Any]:
    """The governance figures of each corpus, derived from its recorded metrics (run and render alike)."""
    for c in (results.get("corpora") or {}).values():
        m = c.get("metrics") or {}
        if all(k in m for k in ("crawl", "filter", "redact", "order", "dedup")):
            c["governance"] = governance(m, c.get("granularity_file"))
    return results


def replace_sections(markdown: str, results: dict[str, Any]) -> str:
    from benchmarks.pipeline_scaling import replace_section

    markdown = replace_section(markdown, github_section(results), GITHUB_HEADING)
    return replace_section(markdown, governance_section(results), GOVERNANCE_HEADING)


def with_sections(markdown: str, results_json: Path) -> str:
    """What `make bench` calls after rendering RESULTS.md: keep these sections when their results exist."""
    path = results_json.with_name(Path(RESULTS_JSON).name)
    if not path.is_file():
        return markdown
    return replace_sections(markdown, json.loads(path.read_text(encoding="utf-8")))


# --- entry point --------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.github_corpus", description=__doc__.splitlines()[0])
    ap.add_argument("command", nargs="?", default="run", choices=("run", "render"))
    ap.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=CORPORA,
                    help="which corpora to run (the others keep their figures from the JSON)")
    ap.add_argument("--labels", type=Path, default=ROOT / "benchmarks/quality_labels/github.tsv")
    ap.add_argument("--work-dir", type=Path, default=ROOT / WORK_DIR)
    ap.add_argument("--results-json", type=Path, default=ROOT / RESULTS_JSON)
    ap.add_argument("--results-md", type=Path, default=ROOT / RESULTS_MD)
    ap.add_argument("--no-check", action="store_true", help="exit 0 even when quality precision targets are missed")
    return ap.parse_args(argv)


def status(results: dict[str, Any], check: bool) -> list[str]:
    """What makes the run fail: a failed step, a run not green, missed precision targets (with check)."""
    out = []
    for name, c in (results.get("corpora") or {}).items():
        if c.get("error"):
            out.append(f"{name}: {c['error']}")
        for s in c.get("steps") or []:
            if s["returncode"] != 0 and not c.get("error"):
                out.append(f"{name}: step {s['name']!r} exit {s['returncode']}")
    g = (results.get("corpora") or {}).get("github") or {}
    if "green" in g and not g["green"]:
        out.append("github: the calibrated run is not green")
    if check and (g.get("precision") or {}).get("failures"):
        out += [f"github quality precision: {f}" for f in g["precision"]["failures"]]
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from benchmarks.measure import rounded
    from benchmarks.run import machine_info
    from flows.server import free_port, start, stop
    from tasks.common.io import atomic_write_json, atomic_write_text

    def log(msg: str) -> None:
        print(f"[github-corpus {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    old = read_json(args.results_json)
    if args.command == "render":
        results = rounded(finish(old))
        atomic_write_json(args.results_json, results)
    else:
        t0 = time.perf_counter()
        results = {"schema": 1, "started_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                   "machine": machine_info(ROOT), "corpora": dict(old.get("corpora") or {})}
        home, port = args.work_dir / "prefect-home", free_port()
        args.work_dir.mkdir(parents=True, exist_ok=True)
        api_url = start(port=port, home=home)
        try:
            for corpus in [c for c in CORPORA if c in args.corpora]:
                work = args.work_dir / corpus
                results["corpora"][corpus] = (run_github(work, args.labels, api_url, log) if corpus == "github"
                                              else run_default(work, api_url, log))
                results["corpora"][corpus]["finished_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        finally:
            stop(port=port, home=home, wait_s=10)
        results["seconds"] = time.perf_counter() - t0
        results["finished_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        results = rounded(finish(results))
        atomic_write_json(args.results_json, results)
    md = args.results_md.read_text(encoding="utf-8") if args.results_md.is_file() else "# Benchmark results\n"
    atomic_write_text(args.results_md, replace_sections(md, results))
    print(github_section(results))
    print(governance_section(results))
    missed = status(results, not args.no_check)
    for line in missed:
        log(f"FAILED: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
