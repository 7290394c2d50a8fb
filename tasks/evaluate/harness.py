"""The evaluate stage: each benchmark end to end (generate, execute or match, write samples), and metrics.

Programs in other languages run in the same sandbox with their toolchain (`toolchains.command`); a language
whose toolchain is missing is `skipped` with the reason. `tables.paper_tables` arranges the per-language
scores as the paper's tables (one column per language and their mean).

`run_benchmark` is the unit of work (one benchmark of one checkpoint, picklable arguments) that the
flow can fan out; `aggregate` turns the per-benchmark stats into metrics/eval.json; `evaluate` runs
them all in one process, loading the model once. The `eval_*` functions take any object with
`generate(prompts, stops, max_new_tokens, tag)` and `fits(text, max_new_tokens)`, so the scoring path
is tested with an oracle generator that answers with the canonical solutions.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, Sequence

from tasks.common.io import atomic_write_text
from tasks.evaluate import benchmarks as B
from tasks.evaluate import multilingual as M
from tasks.evaluate import toolchains
from tasks.evaluate.config import Config
from tasks.evaluate.passk import mean_pass_at_k
from tasks.evaluate.sandbox import Command, Limits, Result, run_programs, sandbox_support
from tasks.evaluate.stops import HUMANEVAL_STOPS, MBPP_STOPS, first_line
from tasks.evaluate.tables import paper_summary, paper_tables

SHORT_GENERATION = 128  # tokens: enough for one line (next-line / infilling tasks)


class TextGenerator(Protocol):
    def generate(self, prompts: Sequence[str], stops: Sequence[str] = (), max_new_tokens: int | None = None,
                 tag: str = "") -> list[str]: ...

    def fits(self, text: str, max_new_tokens: int | None = None) -> bool: ...


def sandbox_limits(cfg: Config) -> Limits:
    sb = cfg.sandbox
    return Limits(memory_mb=cfg.memory_mb, fsize_mb=sb.fsize_mb, nproc=sb.nproc, nofile=sb.nofile,
                  isolate=sb.isolate, audit_guard=sb.audit_guard)


def toolchain_limits(cfg: Config, language: str) -> Limits:
    """The sandbox limits of one language's programs: memory and process caps sized for its toolchain."""
    return replace(sandbox_limits(cfg), memory_mb=cfg.multilingual.memory_mb,
                   nproc=max(cfg.sandbox.nproc, toolchains.TOOLCHAINS[language].nproc))


def execute(task_ids: Sequence[str], programs: Sequence[str], cfg: Config, *, timeout_s: float | None = None,
            limits: Limits | None = None, command: Command | None = None) -> tuple[dict[str, Any], list[Result]]:
    """Run one program per sample; pass@k over tasks (samples of a task are consecutive or not, any order).
    Over no program, pass@k is null with a reason."""
    start = time.perf_counter()
    results = run_programs(programs, timeout_s or cfg.timeout_s, limits or sandbox_limits(cfg), cfg.workers, command)
    per_task: dict[str, list[bool]] = {}
    for task_id, result in zip(task_ids, results):
        per_task.setdefault(task_id, []).append(result.passed)
    scores: dict[str, Any] = mean_pass_at_k([(len(v), sum(v)) for v in per_task.values()], cfg.k)
    stats: dict[str, Any] = {
        "n_problems": len(per_task),
        "n_programs": len(programs),
        "n_passed": sum(r.passed for r in results),
        **(scores or {f"pass@{k}": None for k in cfg.k}),
        "statuses": {s: n for s, n in sorted(Counter(r.status for r in results).items())},
        "exec_seconds": round(time.perf_counter() - start, 3),
    }
    if not per_task:
        stats["reason"] = "no problems to run"
    return stats, results


def _exec_record(result: Result) -> dict[str, Any]:
    return {"passed": result.passed, "status": result.status, "detail": result.detail}


def eval_humaneval(gen: TextGenerator, cfg: Config, problems: Sequence[dict[str, Any]] | None = None
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    problems = B.subset(problems if problems is not None else B.load_humaneval(), cfg.limit_for("humaneval"))
    n = cfg.n_samples
    t0 = time.perf_counter()
    raw = gen.generate([B.humaneval_prompt(p) for p in problems for _ in range(n)], HUMANEVAL_STOPS,
                       max_new_tokens=cfg.tokens_for("humaneval"), tag="humaneval")
    gen_s = time.perf_counter() - t0
    completions = [B.humaneval_completion(r) for r in raw]
    owners = [p for p in problems for _ in range(n)]
    stats, results = execute([p["task_id"] for p in owners],
                             [B.humaneval_program(p, c) for p, c in zip(owners, completions)], cfg)
    records = [{"task_id": p["task_id"], "sample": i % n, "completion": c, **_exec_record(r)}
               for i, (p, c, r) in enumerate(zip(owners, completions, results))]
    stats.update(n_samples=n, gen_seconds=round(gen_s, 3))
    return stats, records


def eval_mbpp(gen: TextGenerator, cfg: Config, rows: dict[int, dict[str, Any]] | None = None
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = rows if rows is not None else B.load_mbpp(cfg.assets_dir)
    shots = B.mbpp_shots(rows)
    tests = B.subset([rows[i] for i in B.MBPP_TEST_IDS if i in rows], cfg.limit_for("mbpp"))
    n = cfg.n_samples
    t0 = time.perf_counter()
    tokens = cfg.tokens_for("mbpp")
    prompts = [B.mbpp_prompt(row, shots, lambda text: gen.fits(text, tokens)) for row in tests]
    n_shots = Counter(p.count("[DONE]") for p in prompts)
    raw = gen.generate([p for p in prompts for _ in range(n)], MBPP_STOPS, max_new_tokens=tokens, tag="mbpp")
    gen_s = time.perf_counter() - t0
    completions = [B.mbpp_completion(r) for r in raw]
    owners = [row for row in tests for _ in range(n)]
    stats, results = execute([str(row["task_id"]) for row in owners],
                             [B.mbpp_program(row, c) for row, c in zip(owners, completions)], cfg)
    records = [{"task_id": row["task_id"], "sample": i % n, "completion": c, **_exec_record(r)}
               for i, (row, c, r) in enumerate(zip(owners, completions, results))]
    stats.update(n_samples=n, gen_seconds=round(gen_s, 3),
                 shots={str(k): v for k, v in sorted(n_shots.items())})
    return stats, records


def eval_humaneval_fim(gen: TextGenerator, cfg: Config, rows: Sequence[dict[str, Any]] | None = None
                       ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = B.subset(rows if rows is not None else B.load_humaneval_fim(cfg.assets_dir), cfg.limit_for("humaneval_fim"))
    t0 = time.perf_counter()
    raw = gen.generate([B.fim_prompt(r["prompt"], r["suffix"]) for r in rows], (),
                       max_new_tokens=min(cfg.tokens_for("humaneval_fim"), SHORT_GENERATION), tag="humaneval_fim")
    gen_s = time.perf_counter() - t0
    completions = [B.fim_completion(r, cfg.fim.stop_at_newline) for r in raw]
    exact = [B.fim_exact(c, row["canonical_solution"]) for c, row in zip(completions, rows)]
    records = [{"task_id": row["task_id"], "completion": c, "exact_match": e}
               for row, c, e in zip(rows, completions, exact)]
    stats: dict[str, Any] = {"n": len(rows), "exact_match": round(sum(exact) / len(rows), 6) if rows else None,
                             "n_exact": sum(exact), "mode": cfg.fim.mode, "gen_seconds": round(gen_s, 3)}
    if cfg.fim.mode == "exec":
        exec_stats, results = execute([r["task_id"] for r in rows],
                                      [B.fim_program(row, c) for row, c in zip(rows, completions)], cfg)
        stats.update({k: v for k, v in exec_stats.items() if k != "n_problems"})
        for rec, res in zip(records, results):
            rec.update(_exec_record(res))
    return stats, records


def _humaneval_language(gen: TextGenerator, cfg: Config, language: str, problems: Sequence[dict[str, Any]]
                        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One language of the multilingual HumanEval: its stop tokens, its toolchain, its sandbox limits."""
    n = cfg.n_samples
    stops = sorted({s for p in problems for s in M.humaneval_stops(p, language)})
    t0 = time.perf_counter()
    raw = gen.generate([M.humaneval_prompt(p) for p in problems for _ in range(n)], stops,
                       max_new_tokens=cfg.tokens_for("humaneval_multilingual"), tag=f"humaneval_{language}")
    gen_s = time.perf_counter() - t0
    owners = [p for p in problems for _ in range(n)]
    completions = [M.humaneval_completion(r, p, language) for r, p in zip(raw, owners)]
    jar = toolchains.javatuples_jar(cfg.multilingual.data_dir)
    stats, results = execute([p["task_id"] for p in owners],
                             [M.humaneval_program(p, c, language) for p, c in zip(owners, completions)], cfg,
                             timeout_s=cfg.multilingual.timeout_s, limits=toolchain_limits(cfg, language),
                             command=toolchains.command(language, jar))
    stats.update(n_samples=n, gen_seconds=round(gen_s, 3),
                 isolation=sorted({layer for r in results for layer in r.isolation}))
    records = [{"language": language, "task_id": p["task_id"], "sample": i % n, "completion": c, **_exec_record(r)}
               for i, (p, c, r) in enumerate(zip(owners, completions, results))]
    return stats, records


def exec_isolation_missing(cfg: Config, language: str) -> str | None:
    """Why a compiled or interpreted program may not run here, or None. Outside Python no audit guard can
    follow the program, so namespaces and the uid drop are required unless the params waive them."""
    layers = set(sandbox_support(toolchain_limits(cfg, language)))
    if {"netns", "uid"} <= layers or cfg.sandbox.exec_unisolated:
        return None
    return (f"no namespace isolation here (layers: {', '.join(sorted(layers))}); programs in other languages "
            "need it (run as root), or set evaluate.sandbox.exec_unisolated: true to run them with rlimits only")


def eval_humaneval_multilingual(gen: TextGenerator, cfg: Config,
                                problems: dict[str, Sequence[dict[str, Any]]] | None = None
                                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """HumanEval in each configured language (the paper's §4.1 table beside Python's `humaneval`); a language
    without its toolchain (or without namespace isolation) is skipped with the reason, never scored."""
    ml = cfg.multilingual
    jar = toolchains.javatuples_jar(ml.data_dir)
    languages: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    for lang in ml.languages:
        found = toolchains.probe(lang, jar if lang == "java" else None)
        entry: dict[str, Any] = {"name": M.LANGUAGE_NAMES[lang], "toolchain": found.detail}
        unisolated = exec_isolation_missing(cfg, lang)
        if not found.ok or unisolated:
            languages[lang] = {**entry, "skipped": found.detail if not found.ok else unisolated}
            continue
        rows = problems[lang] if problems is not None else M.load_humaneval(ml.data_dir, lang)
        stats, recs = _humaneval_language(gen, cfg, lang, B.subset(rows, cfg.limit_for("humaneval_multilingual")))
        languages[lang] = {**entry, **stats}
        records += recs
    return {"languages": languages, "n_samples": cfg.n_samples}, records


def eval_fim_multilingual(gen: TextGenerator, cfg: Config, tasks: dict[str, Sequence[dict[str, Any]]] | None = None
                          ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Single-line infilling per language (PSM prompts, one line generated), exact match of the stripped line."""
    languages: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    for lang in cfg.multilingual.fim_languages:
        rows = B.subset(tasks[lang] if tasks is not None else M.load_fim_lines(cfg.multilingual.data_dir, lang),
                        cfg.limit_for("fim_multilingual"))
        t0 = time.perf_counter()
        raw = gen.generate([r["prompt"] for r in rows], ("\n",),
                           max_new_tokens=min(cfg.tokens_for("fim_multilingual"), SHORT_GENERATION), tag=f"fim_{lang}")
        guesses = [first_line(r) for r in raw]
        exact = [B.fim_exact(g, row["target"]) for g, row in zip(guesses, rows)]
        languages[lang] = {"name": M.LANGUAGE_NAMES[lang], "n": len(rows), "n_exact": sum(exact),
                           "exact_match": round(sum(exact) / len(rows), 6) if rows else None,
                           **({} if rows else {"reason": "no lines to infill"}),
                           "gen_seconds": round(time.perf_counter() - t0, 3)}
        records += [{"language": lang, "task_id": row["task_id"], "target": row["target"], "completion": g,
                     "exact_match": e} for row, g, e in zip(rows, guesses, exact)]
    return {"languages": languages}, records


def eval_leetcode(gen: TextGenerator, cfg: Config, problems: Sequence[dict[str, Any]] | None = None
                  ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """LeetCode Contest (paper §4.1): the `prompt` stub completed, run against its ~100 asserts; pass@1 and
    the Easy / Medium / Hard breakdown of DeepSeek's table."""
    rows = B.subset(problems if problems is not None else M.load_leetcode(cfg.multilingual.data_dir),
                    cfg.limit_for("leetcode"))
    n = cfg.n_samples
    t0 = time.perf_counter()
    raw = gen.generate([M.leetcode_prompt(p) for p in rows for _ in range(n)], M.LEETCODE_STOPS,
                       max_new_tokens=cfg.tokens_for("leetcode"), tag="leetcode")
    gen_s = time.perf_counter() - t0
    owners = [p for p in rows for _ in range(n)]
    completions = [M.leetcode_completion(r) for r in raw]
    stats, results = execute([p["task_id"] for p in owners],
                             [M.leetcode_program(p, c) for p, c in zip(owners, completions)], cfg,
                             timeout_s=cfg.multilingual.leetcode_timeout_s)
    stats.update(n_samples=n, gen_seconds=round(gen_s, 3),
                 by_difficulty=M.by_difficulty(owners, [r.passed for r in results]))
    records = [{"task_id": p["task_id"], "difficulty": M.difficulty(p), "sample": i % n, "completion": c,
                **_exec_record(r)} for i, (p, c, r) in enumerate(zip(owners, completions, results))]
    return stats, records


def _skip(reason: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return {"skipped": reason}, []


def eval_validation(benchmark: str, gen: TextGenerator | None, model: Any, cfg: Config,
                    heldout_texts: Sequence[str] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from tasks.evaluate import validation as V

    v = cfg.validation
    if benchmark == "val_ppl":
        if not v.packed_dir or not (Path(v.packed_dir) / "header.json").exists():
            return _skip(f"no packed split at {v.packed_dir!r}")
        limit = cfg.limit_for("val_ppl") or v.max_sequences
        return V.perplexity(model, v.packed_dir, min(limit, v.max_sequences))
    if heldout_texts is None:
        if not v.heldout_dir or not Path(v.heldout_dir).is_dir():
            return _skip(f"no held-out documents (validation.heldout_dir={v.heldout_dir!r})")
        heldout_texts = V.read_heldout_texts(v.heldout_dir, v.max_docs)
    max_docs = min(v.max_docs, cfg.limit_for(benchmark) or v.max_docs)
    kw = dict(seed=cfg.seed, max_docs=max_docs, max_context_chars=v.max_context_chars, min_line_chars=v.min_line_chars)
    new_tokens = min(cfg.max_new_tokens, SHORT_GENERATION)
    t0 = time.perf_counter()
    if benchmark == "val_next_line":
        tasks = V.next_line_tasks(heldout_texts, **kw)
        raw = gen.generate([t["prompt"] for t in tasks], ("\n",), max_new_tokens=new_tokens, tag=benchmark)
        stats, records = V.score_next_line(tasks, raw)
    else:
        tasks = V.fim_tasks(heldout_texts, **kw)
        raw = gen.generate([t["prompt"] for t in tasks], (), max_new_tokens=new_tokens, tag=benchmark)
        stats, records = V.score_fim(tasks, raw, cfg.fim.stop_at_newline)
    stats["gen_seconds"] = round(time.perf_counter() - t0, 3)
    return stats, records


GENERATIVE = {"humaneval": eval_humaneval, "mbpp": eval_mbpp, "humaneval_fim": eval_humaneval_fim,
              "humaneval_multilingual": eval_humaneval_multilingual, "fim_multilingual": eval_fim_multilingual,
              "leetcode": eval_leetcode}
_MODELS: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def _model(model_dir: str, cfg: Config) -> tuple[Any, Any]:
    from tasks.evaluate.generation import load_model

    key = (str(Path(model_dir).resolve()), cfg.device, cfg.dtype)
    if key not in _MODELS:
        _MODELS.clear()  # one checkpoint at a time in memory
        _MODELS[key] = load_model(model_dir, cfg.device, cfg.dtype)
    return _MODELS[key]


def write_samples(path: str | os.PathLike, records: Sequence[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records))


def run_benchmark(model_dir: str | os.PathLike, benchmark: str, cfg: Config, out_dir: str | os.PathLike,
                  heldout_texts: Sequence[str] | None = None) -> dict[str, Any]:
    """Evaluate one benchmark; writes `<out_dir>/<benchmark>.jsonl` and returns its stats.

    A failure (missing file, bad checkpoint, a bug) is recorded as `error` in the stats, so one bad
    benchmark does not lose the others.
    """
    from tasks.evaluate.generation import GenSettings, HFGenerator, model_summary

    start = time.perf_counter()
    try:
        model, tokenizer = _model(str(model_dir), cfg)
        gen = HFGenerator(model, tokenizer, GenSettings(
            batch_size=cfg.batch_size, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
            top_p=cfg.top_p, seed=cfg.seed, max_seq_len=cfg.max_seq_len))
        if benchmark in GENERATIVE:
            stats, records = GENERATIVE[benchmark](gen, cfg)
        elif benchmark.startswith("val_"):
            stats, records = eval_validation(benchmark, gen, model, cfg, heldout_texts)
        else:
            raise ValueError(f"unknown benchmark {benchmark!r}")
        stats["model"] = model_summary(model, model_dir)
        if "skipped" not in stats:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            write_samples(Path(out_dir) / f"{benchmark}.jsonl", records)
    except Exception as exc:  # recorded, not raised: see docstring
        stats = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    stats["benchmark"] = benchmark
    stats["seconds"] = round(time.perf_counter() - start, 3)
    return stats


HEADLINES = {  # metric name in the summary -> (benchmark, key in its stats)
    "humaneval_pass@1": ("humaneval", "pass@1"),
    "mbpp_pass@1": ("mbpp", "pass@1"),
    "humaneval_fim_exact_match": ("humaneval_fim", "exact_match"),
    "humaneval_fim_pass@1": ("humaneval_fim", "pass@1"),
    "val_loss": ("val_ppl", "loss"),
    "val_perplexity": ("val_ppl", "perplexity"),
    "val_next_line_exact_match": ("val_next_line", "exact_match"),
    "val_fim_exact_match": ("val_fim", "exact_match"),
}


def aggregate(stats: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-benchmark stats -> the stage's metrics dict (metrics/eval.json)."""
    by_name = {s["benchmark"]: {k: v for k, v in s.items() if k not in ("benchmark", "model")} for s in stats}
    summary = {}
    for name, (bench, key) in HEADLINES.items():
        value = by_name.get(bench, {}).get(key)
        if value is not None:
            summary[name] = value
    # pass@k for k > 1 when sampled
    for bench in ("humaneval", "mbpp"):
        for key, value in by_name.get(bench, {}).items():
            if key.startswith("pass@") and key != "pass@1":
                summary[f"{bench}_{key}"] = value
    tables = paper_tables(by_name)
    summary.update(paper_summary(tables))
    model = next((s["model"] for s in stats if "model" in s), None)
    return {
        "summary": summary,
        "benchmarks": dict(sorted(by_name.items())),
        "tables": tables,
        "errors": sorted(f"{n}: {s['error']}" for n, s in by_name.items() if "error" in s),
        "skipped": sorted(f"{n}: {s['skipped']}" for n, s in by_name.items() if "skipped" in s),
        "seconds": {n: s.get("seconds") for n, s in sorted(by_name.items())},
        "seconds_total": round(sum(s.get("seconds") or 0 for s in stats), 3),
        "model": model,
    }


def evaluate(model_dir: str | os.PathLike, cfg: Config, out_dir: str | os.PathLike,
             heldout_texts: Sequence[str] | None = None) -> dict[str, Any]:
    """All configured benchmarks of one checkpoint; samples go to `out_dir`, the metrics dict is returned."""
    stats = [run_benchmark(model_dir, name, cfg, out_dir, heldout_texts) for name in cfg.benchmarks]
    return with_sandbox(aggregate(stats), cfg)


EXECUTED = ("humaneval", "mbpp", "humaneval_multilingual", "leetcode")


def with_sandbox(metrics: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """Record the isolation layers programs got, when any benchmark ran programs."""
    if any(b in cfg.benchmarks for b in EXECUTED) or (cfg.fim.mode == "exec" and "humaneval_fim" in cfg.benchmarks):
        metrics["sandbox"] = list(sandbox_support(sandbox_limits(cfg)))
    return metrics
