"""The paper's multilingual benchmarks: programs built as DeepSeek-Coder's harness builds them, each language's
toolchain in the sandbox, hand-written right and wrong solutions scored as expected, the FIM and LeetCode
oracles, and the paper's tables with nulls and reasons where there is no score.

A few problems per language here; `python -m tasks.evaluate.oracle --only multilingual fim_multilingual
leetcode` runs every hand-written solution and times each benchmark.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tasks.evaluate import multilingual as M
from tasks.evaluate import toolchains
from tasks.evaluate.benchmarks import FIM_BEGIN, FIM_END, FIM_HOLE
from tasks.evaluate.config import Config, config_from_params
from tasks.evaluate.harness import (eval_fim_multilingual, eval_humaneval_multilingual, evaluate,
                                    exec_isolation_missing)
from tasks.evaluate.oracle import (SOLUTIONS_DIR, OracleGenerator, fim_multilingual_oracle, leetcode_oracle,
                                   load_solutions, multilingual_oracle)
from tasks.evaluate.tables import paper_summary, paper_tables
from tests.support.services import unavailable

CFG = Config(workers=2)
ORACLE_PROBLEMS = 4  # per language and kind; the hand-written files hold 10


def require_toolchain(lang: str) -> None:
    """Skip (fail under CI) when the language cannot run here: no toolchain, or no namespace isolation."""
    jar = toolchains.javatuples_jar(CFG.multilingual.data_dir) if lang == "java" else None
    found = toolchains.probe(lang, jar)
    if not found.ok:
        unavailable(f"{lang}: {found.detail}")
    why = exec_isolation_missing(CFG, lang)
    if why:
        unavailable(f"{lang}: {why}")


@pytest.mark.parametrize("lang", M.HUMANEVAL_LANGUAGES)
def test_hand_written_solutions_pass_and_wrong_ones_fail(lang: str) -> None:
    require_toolchain(lang)
    report = multilingual_oracle(CFG, [lang], limit=ORACLE_PROBLEMS)[lang]
    assert "skipped" not in report, report
    assert report["right"]["n"] == ORACLE_PROBLEMS
    assert report["right"]["pass@1"] == 1.0, report["right"]["failures"]
    # the wrong ones build and run: their tests fail them, not a timeout or a harness error
    assert report["wrong"]["n_passed"] == 0 and report["wrong"]["statuses"] == {"failed": ORACLE_PROBLEMS}, report


def test_each_language_has_ten_hand_written_problems_of_its_benchmark() -> None:
    data = M.data_dir(CFG.multilingual.data_dir) / SOLUTIONS_DIR
    for lang in M.HUMANEVAL_LANGUAGES:
        solutions = load_solutions(data / f"humaneval-{lang}.txt")
        ids = {p["task_id"] for p in M.load_humaneval(CFG.multilingual.data_dir, lang)}
        assert len(solutions) >= 10 and set(solutions) <= ids, lang
        assert all(s["right"] != s["wrong"] for s in solutions.values())


def test_fim_true_line_is_exact_everywhere_and_a_changed_line_nowhere() -> None:
    report = fim_multilingual_oracle(CFG)
    assert {lang: r["true_line"]["n"] for lang, r in report.items()} == {"py": 1141, "java": 1832, "js": 2026}
    for lang, r in report.items():
        assert r["true_line"]["exact_match"] == 1.0, (lang, r["true_line"]["misses"])
        assert r["changed_line"]["n_exact"] == 0, lang


def test_leetcode_tests_accept_right_bodies_and_reject_wrong_ones() -> None:
    report = leetcode_oracle(CFG)
    assert report["right"]["n"] == 5 and report["right"]["pass@1"] == 1.0, report["right"]["failures"]
    assert report["wrong"]["n_passed"] == 0 and report["wrong"]["statuses"] == {"failed": 5}
    assert {d: v["n_passed"] for d, v in report["right"]["by_difficulty"].items()} == {"Easy": 2, "Medium": 2, "Hard": 1}


def _problem(lang: str, number: int) -> dict:
    return next(p for p in M.load_humaneval(CFG.multilingual.data_dir, lang) if M.problem_number(p["task_id"]) == number)


def test_programs_are_built_as_deepseeks_harness_builds_them() -> None:
    body = "\n    return 0;"
    cpp = _problem("cpp", 53)
    assert M.humaneval_program(cpp, body, "cpp") == (
        "".join(line + "\n" for line in M.CPP_HELPER) + "\n" + cpp["prompt"] + "\n" + body + "\n" + cpp["tests"])
    php = _problem("php", 53)
    program = M.humaneval_program(php, body, "php")
    assert program.startswith("<?php\n") and program.count("<?php") == 1 and program.endswith(php["tests"] + "?>")
    cs = _problem("cs", 53)
    assert M.humaneval_program(cs, body, "cs").startswith("using System.Numerics;\nusing System.Diagnostics;")
    for lang in ("java", "ts", "js", "sh"):
        p = _problem(lang, 53)
        assert M.humaneval_program(p, body, lang) == p["prompt"] + "\n" + body + "\n" + p["tests"]


def test_completions_stop_at_each_languages_stop_tokens() -> None:
    assert M.humaneval_completion("\n    return 1;\n}\nint main() {}", _problem("cpp", 53), "cpp") == "\n    return 1;"
    java = "\n        if (x) {\n            return 1;\n        }\n        return 0;\n    }\n    public static void f"
    assert M.humaneval_completion(java, _problem("java", 53), "java") == java[:java.index("\n    }\n")]
    # TypeScript also stops where DeepSeek adds export/import/console.log
    ts = "\n    return x + y;\n}\nexport default add;"
    assert M.humaneval_completion(ts, _problem("ts", 53), "ts") == "\n    return x + y;\n}"
    assert M.leetcode_completion("\n        return 1\n\nif __name__ == '__main__':\n") == "\n        return 1\n"


def test_fim_tasks_mask_each_non_blank_line_in_turn() -> None:
    problems = json.loads((M.data_dir(CFG.multilingual.data_dir) / "fim-humaneval-py.json").read_text())
    tasks = [t for t in M.load_fim_lines(CFG.multilingual.data_dir, "py") if t["task_id"].startswith("py/0/")]
    body = problems[0]["body"]
    assert [t["target"] for t in tasks] == [line for line in body if line.strip()]
    whole = problems[0]["prompt"] + "".join(line + "\n" for line in body)
    for t in tasks:
        prefix, suffix = t["prompt"].removeprefix(FIM_BEGIN).removesuffix(FIM_END).split(FIM_HOLE)
        assert prefix + t["target"] + "\n" + suffix == whole


class Echo(OracleGenerator):
    """Answers every prompt with the same text."""

    def __init__(self, text: str):
        super().__init__({})
        self.text = text

    def generate(self, prompts, stops=(), max_new_tokens=None, tag=""):
        return [self.text for _ in prompts]


def test_a_missing_toolchain_is_skipped_with_its_reason_and_never_scored(monkeypatch: pytest.MonkeyPatch) -> None:
    require_toolchain("sh")
    real = toolchains.probe
    monkeypatch.setattr(toolchains, "probe", lambda lang, jar=None: toolchains.Availability(
        False, "php not found: run `make toolchains`") if lang == "php" else real(lang, jar))
    cfg = replace(CFG, limit={"humaneval_multilingual": 1},
                  multilingual=replace(CFG.multilingual, languages=("php", "sh")))
    stats, records = eval_humaneval_multilingual(Echo("\n    echo 0"), cfg)
    php, sh = stats["languages"]["php"], stats["languages"]["sh"]
    assert php == {"name": "PHP", "toolchain": "php not found: run `make toolchains`",
                   "skipped": "php not found: run `make toolchains`"}
    assert sh["n_problems"] == 1 and sh["pass@1"] == 0.0 and {r["language"] for r in records} == {"sh"}
    table = paper_tables({"humaneval": {"pass@1": 0.5, "n_problems": 2}, "humaneval_multilingual": stats})
    cells = {c["key"]: c for c in table["humaneval_multilingual"]["columns"]}
    assert cells["php"]["value"] is None and "make toolchains" in cells["php"]["reason"]
    assert cells["sh"]["value"] == 0.0 and cells["python"]["value"] == 0.5
    assert cells["java"]["reason"] == "skipped: not in evaluate.multilingual.languages"
    assert table["humaneval_multilingual"]["mean"] is None and "PHP" in table["humaneval_multilingual"]["mean_reason"]
    summary = paper_summary(table)
    assert summary == {"humaneval_sh_pass@1": 0.0}  # no PHP score, no mean


def test_metrics_over_no_problem_are_null_with_a_reason() -> None:
    require_toolchain("sh")
    cfg = replace(CFG, multilingual=replace(CFG.multilingual, languages=("sh",), fim_languages=("py",)))
    he, _ = eval_humaneval_multilingual(Echo(""), cfg, {"sh": []})
    assert he["languages"]["sh"]["pass@1"] is None and he["languages"]["sh"]["reason"] == "no problems to run"
    fim, _ = eval_fim_multilingual(Echo(""), cfg, {"py": []})
    assert fim["languages"]["py"]["exact_match"] is None and fim["languages"]["py"]["reason"]
    tables = paper_tables({"humaneval_multilingual": he, "fim_multilingual": fim})
    assert all(c["value"] is None and c["reason"] for t in ("humaneval_multilingual", "fim_multilingual")
               for c in tables[t]["columns"])
    assert tables["leetcode"]["value"] is None and tables["leetcode"]["reason"].startswith("leetcode not run")
    assert paper_summary(tables) == {}


def test_a_perfect_score_cannot_come_from_an_empty_answer() -> None:
    cfg = replace(CFG, limit={"fim_multilingual": 50})
    fim, _ = eval_fim_multilingual(Echo(""), cfg)
    assert all(v["n_exact"] == 0 for v in fim["languages"].values())  # blank lines are not tasks


def test_stage_runs_the_paper_benchmarks_on_a_tiny_checkpoint(tiny_model_dir: Path, tmp_path: Path) -> None:
    require_toolchain("sh")
    require_toolchain("js")
    cfg = config_from_params({
        "benchmarks": ["humaneval_multilingual", "fim_multilingual", "leetcode"], "max_new_tokens": 8,
        "limit": {"humaneval_multilingual": 1, "fim_multilingual": 2, "leetcode": 1}, "batch_size": 4,
        "max_new_tokens_by_benchmark": {"leetcode": 4}, "multilingual": {"languages": ["sh", "js"]}})
    metrics = evaluate(tiny_model_dir, cfg, tmp_path)
    assert metrics["errors"] == [], metrics["errors"]
    langs = metrics["benchmarks"]["humaneval_multilingual"]["languages"]
    assert {k: v["n_problems"] for k, v in langs.items()} == {"sh": 1, "js": 1}
    assert "exec" in langs["sh"]["isolation"]
    assert {k: v["n"] for k, v in metrics["benchmarks"]["fim_multilingual"]["languages"].items()} == {
        "py": 2, "java": 2, "js": 2}
    assert metrics["benchmarks"]["leetcode"]["n_problems"] == 1
    tables = metrics["tables"]
    assert [c["key"] for c in tables["humaneval_multilingual"]["columns"]] == list(M.TABLE_LANGUAGES)
    assert tables["leetcode"]["n"] == 1 and metrics["sandbox"]
    records = [json.loads(line) for line in (tmp_path / "humaneval_multilingual.jsonl").read_text().splitlines()]
    assert sorted(r["language"] for r in records) == ["js", "sh"]


def test_other_languages_need_namespace_isolation_unless_waived(monkeypatch: pytest.MonkeyPatch) -> None:
    require_toolchain("sh")
    from tasks.evaluate import harness

    monkeypatch.setattr(harness, "sandbox_support", lambda limits=None: ("rlimits", "audit"))
    cfg = replace(CFG, limit={"humaneval_multilingual": 1}, multilingual=replace(CFG.multilingual, languages=("sh",)))
    stats, records = eval_humaneval_multilingual(Echo("\n    echo 0"), cfg)
    assert "exec_unisolated" in stats["languages"]["sh"]["skipped"] and records == []
    waived = replace(cfg, sandbox=replace(cfg.sandbox, exec_unisolated=True))
    stats, records = eval_humaneval_multilingual(Echo("\n    echo 0"), waived)
    assert stats["languages"]["sh"]["n_problems"] == 1 and len(records) == 1
