"""From seeds to the dataset: ask the teacher, then keep what survives every check, each drop with its reason.

Order of the checks (the first failing one is the recorded reason): no answer (`http_error`), a cut-off
answer (`truncated`), missing sections (`no_sections`), no code block in the solution's language
(`no_code`), code that does not parse (`unparsable_code`), teacher-written tests that fail in the
sandbox (`tests_failed`), a match with the benchmarks (`contaminated`, the quality stage's index and
rule), and last an exact duplicate of an earlier item's normalised instruction (`duplicate`; items
are visited in id order, so which one is kept does not depend on timing).

Outputs are sorted by id and written as canonical JSON lines, so the same seeds and the same cached
answers give byte-identical files.
"""
from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from tasks.common.io import atomic_write_text
from tasks.oss_instruct.config import Config
from tasks.oss_instruct.parse import code_for, normalise_fences, parse_answer
from tasks.oss_instruct.prompt import build_messages
from tasks.oss_instruct.seeds import Seed
from tasks.oss_instruct.teacher import Answer, TeacherClient, TeacherError
from tasks.oss_instruct.validate import check_code, run_tests, tests_program

REASONS = ("http_error", "truncated", "no_sections", "no_code", "unparsable_code", "tests_failed", "contaminated",
           "duplicate")
PARSE_REASONS = frozenset({"truncated", "no_sections", "no_code", "unparsable_code"})


@dataclass(frozen=True)
class Asked:
    seed: Seed
    answer: Answer | None
    error: str | None = None


@dataclass
class _Candidate:
    seed: Seed
    answer: Answer
    instruction: str
    response: str
    code: list[str]
    tests: str | None
    program: str | None = None  # solution + tests, when they are to run


@dataclass
class Built:
    items: list[dict[str, Any]]
    drops: list[dict[str, Any]]
    unchecked_syntax: Counter = field(default_factory=Counter)
    tests: Counter = field(default_factory=Counter)


def ask_teacher(seeds: Sequence[Seed], cfg: Config, client: TeacherClient,
                on_answer: Callable[[Asked], None] | None = None) -> list[Asked]:
    """One request per seed (through the cache), `teacher.concurrency` at a time; results in seed order.

    `on_answer` runs after each answer is cached; an exception in it stops the run (what a kill does).
    """
    from tqdm import tqdm

    results: list[Asked | None] = [None] * len(seeds)

    def one(i: int) -> tuple[int, Asked]:
        seed = seeds[i]
        messages = build_messages(seed.text, seed.lang, seed.lang in cfg.validate.request_tests)
        try:
            asked = Asked(seed, client.complete(messages))
        except TeacherError as exc:
            asked = Asked(seed, None, str(exc))
        if on_answer is not None:
            on_answer(asked)
        return i, asked

    with ThreadPoolExecutor(max_workers=cfg.teacher.concurrency) as pool:
        futures = [pool.submit(one, i) for i in range(len(seeds))]
        try:
            with tqdm(total=len(futures), desc="oss_instruct", unit="seed", file=sys.stderr, mininterval=2.0) as bar:
                for fut in as_completed(futures):
                    i, asked = fut.result()
                    results[i] = asked
                    bar.update(1)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    return [r for r in results if r is not None]


def _drop(seed: Seed, reason: str, detail: str | None) -> dict[str, Any]:
    prov = seed.provenance()
    prov.pop("text")
    return {"id": seed.id, "lang": seed.lang, "reason": reason, "detail": detail, "seed": prov}


def _screen(asked: Asked, cfg: Config, unchecked: Counter) -> _Candidate | dict[str, Any]:
    """A candidate item, or the drop row saying why there is none."""
    seed, answer = asked.seed, asked.answer
    if answer is None:
        return _drop(seed, "http_error", asked.error)
    if answer.finish_reason == "length":
        return _drop(seed, "truncated", "finish_reason=length (max_tokens reached)")
    parsed = parse_answer(answer.content)
    if parsed is None:
        return _drop(seed, "no_sections", "no [Problem Description] or no [Solution] section")
    blocks = code_for(parsed.solution, seed.lang)
    if not blocks:
        return _drop(seed, "no_code", f"no {seed.lang} code block in the solution")
    for block in blocks:
        if not block.closed:
            return _drop(seed, "unparsable_code", "unclosed code fence")
        check = check_code(block.code, seed.lang, cfg.validate.max_error_share)
        if check.status == "error":
            return _drop(seed, "unparsable_code", check.detail)
        if check.status == "unchecked":
            unchecked[seed.lang] += 1
    tests = None
    if parsed.tests is not None:
        test_code = "\n\n".join(b.code for b in code_for(parsed.tests, seed.lang) if b.closed and b.code.strip())
        tests = test_code or None
    cand = _Candidate(seed, answer, parsed.problem, normalise_fences(parsed.solution, seed.lang),
                      [b.code for b in blocks], None)
    if tests is not None and seed.lang == "Python":
        check = check_code(tests, "Python", cfg.validate.max_error_share)
        if check.status == "error":
            return _drop(seed, "tests_failed", f"tests do not compile: {check.detail}")
        cand.tests = tests
        if cfg.validate.run_tests:
            cand.program = tests_program(cand.code, tests)
    return cand


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def build(asked: Iterable[Asked], cfg: Config, index: Any | None = None, min_gram_hits: int = 1,
          batch_bytes: int = 4_000_000) -> Built:
    """Screen every answer; `index` is a loaded `tasks.quality.decontam.BenchmarkIndex` (None = no decontamination)."""
    unchecked: Counter = Counter()
    drops: list[dict[str, Any]] = []
    cands: list[_Candidate] = []
    for a in asked:
        out = _screen(a, cfg, unchecked)
        (cands if isinstance(out, _Candidate) else drops).append(out)

    tests = Counter()
    to_run = [c for c in cands if c.program is not None]
    outcomes = run_tests([c.program for c in to_run], cfg.validate.test_timeout_s, cfg.validate.test_memory_mb,
                         cfg.validate.test_workers)
    failed = set()
    for c, (passed, detail) in zip(to_run, outcomes):
        tests["passed" if passed else "failed"] += 1
        if not passed:
            failed.add(id(c))
            drops.append(_drop(c.seed, "tests_failed", detail))
    cands = [c for c in cands if id(c) not in failed]

    if index is not None and cands:
        from tasks.quality.screen import contamination_finding

        texts = ["\n".join(x for x in (c.instruction, c.response, c.tests) if x) for c in cands]
        clean = []
        for c, hits in zip(cands, index.scan(texts, batch_bytes)):
            finding = contamination_finding(hits, index, min_gram_hits)
            if finding is None:
                clean.append(c)
            else:
                drops.append(_drop(c.seed, "contaminated", finding.detail))
        cands = clean

    items: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for c in sorted(cands, key=lambda c: c.seed.id):
        key = _normalised(c.instruction)
        if cfg.dedup and key in seen:
            drops.append(_drop(c.seed, "duplicate", f"same instruction as {seen[key]}"))
            continue
        seen.setdefault(key, c.seed.id)
        items.append({"id": c.seed.id, "lang": c.seed.lang, "instruction": c.instruction, "response": c.response,
                      "seed": c.seed.provenance(), "tests": c.tests,
                      "teacher": {"model": cfg.teacher.model, "prompt_tokens": c.answer.prompt_tokens,
                                  "completion_tokens": c.answer.completion_tokens}})
    drops.sort(key=lambda d: d["id"])
    return Built(items, drops, unchecked, tests)


def jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)


def write_dataset(out_dir: str | Path, items: Sequence[dict[str, Any]], drops: Sequence[dict[str, Any]]) -> None:
    """instruct.jsonl and drops.jsonl, sorted by id, canonical JSON (byte-stable)."""
    out = Path(out_dir)
    atomic_write_text(out / "instruct.jsonl", jsonl(sorted(items, key=lambda r: r["id"])))
    atomic_write_text(out / "drops.jsonl", jsonl(sorted(drops, key=lambda r: r["id"])))


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def metrics(cfg: Config, seed_counts: dict[str, dict[str, int]], asked: Sequence[Asked], built: Built) -> dict[str, Any]:
    """Deterministic figures of the dataset (what this run spent goes to `run_report`, not here)."""
    answers = [a.answer for a in asked if a.answer is not None]
    prompt = sum(a.prompt_tokens for a in answers)
    completion = sum(a.completion_tokens for a in answers)
    by_reason = Counter(d["reason"] for d in built.drops)
    per_lang: dict[str, dict[str, Any]] = defaultdict(lambda: {"seeds": 0, "kept": 0, "dropped": Counter()})
    for a in asked:
        per_lang[a.seed.lang]["seeds"] += 1
    for item in built.items:
        per_lang[item["lang"]]["kept"] += 1
    for d in built.drops:
        per_lang[d["lang"]]["dropped"][d["reason"]] += 1
    parse_invalid = sum(by_reason[r] for r in PARSE_REASONS)
    n_seeds = len(asked)
    t = cfg.teacher
    return {
        "enabled": True,
        "teacher": {"model": t.model, "temperature": t.temperature, "top_p": t.top_p, "max_tokens": t.max_tokens},
        "seeds": {"drawn": n_seeds, "quota": sum(v["quota"] for v in seed_counts.values()),
                  "per_language": seed_counts},
        "answers": len(answers),
        "kept": len(built.items),
        "dropped": len(built.drops),
        "kept_share": _share(len(built.items), n_seeds),
        "parse_valid": len(answers) - parse_invalid,
        "parse_valid_share": _share(len(answers) - parse_invalid, len(answers)),
        "dropped_by_reason": {r: int(by_reason[r]) for r in REASONS},
        "per_language": {lang: {"seeds": v["seeds"], "kept": v["kept"],
                                "dropped": {r: int(v["dropped"][r]) for r in REASONS if v["dropped"][r]}}
                         for lang, v in sorted(per_lang.items())},
        "syntax_unchecked": dict(sorted(built.unchecked_syntax.items())),
        "tests": {"run": sum(built.tests.values()), "passed": int(built.tests["passed"]),
                  "failed": int(built.tests["failed"]), "kept_with_tests": sum(1 for i in built.items if i["tests"])},
        "tokens": {"prompt": prompt, "completion": completion},
        "estimated_cost_usd": cost(cfg, prompt, completion),
    }


def cost(cfg: Config, prompt_tokens: int, completion_tokens: int) -> float:
    t = cfg.teacher
    return round((prompt_tokens * t.price_prompt_per_1m + completion_tokens * t.price_completion_per_1m) / 1e6, 6)


def run_report(cfg: Config, client: TeacherClient) -> dict[str, Any]:
    """What this run itself spent: requests, retries, cache hits, tokens paid for, their cost."""
    c = client.counters.to_dict()
    return {**c, "cost_usd": cost(cfg, c["prompt_tokens"], c["completion_tokens"])}


def disabled_metrics() -> dict[str, Any]:
    return {"enabled": False, "answers": 0, "kept": 0, "dropped": 0, "kept_share": 0.0,
            "dropped_by_reason": {r: 0 for r in REASONS}, "seeds": {"drawn": 0}}
