from __future__ import annotations

import json

import pytest

from tasks.evaluate import benchmarks as B
from tasks.evaluate.config import Config
from tasks.evaluate.stops import HUMANEVAL_STOPS, first_line, truncate_at_stops

ASSETS = Config().assets_dir


@pytest.fixture(scope="module")
def mbpp() -> dict:
    return B.load_mbpp(ASSETS)


def test_benchmark_files_have_the_documented_sizes(mbpp: dict) -> None:
    assert len(B.load_humaneval()) == 164
    assert len(B.load_humaneval_fim(ASSETS)) == 1033
    assert len(mbpp) == 974 and sorted(mbpp)[:3] == [1, 2, 3]
    assert [t for t in B.MBPP_TEST_IDS][:1] == [11] and len(B.MBPP_TEST_IDS) == 500


def test_fim_prompt_uses_deepseek_special_tokens_in_psm_order() -> None:
    assert B.FIM_BEGIN == "<\uff5cfim\u2581begin\uff5c>"
    assert B.FIM_HOLE == "<\uff5cfim\u2581hole\uff5c>" and B.FIM_END == "<\uff5cfim\u2581end\uff5c>"
    assert B.fim_prompt("pre", "suf") == "<\uff5cfim\u2581begin\uff5c>pre<\uff5cfim\u2581hole\uff5c>suf<\uff5cfim\u2581end\uff5c>"


def test_mbpp_prompt_is_deepseeks_three_shot_format(mbpp: dict) -> None:
    shots = B.mbpp_shots(mbpp)
    prompt = B.mbpp_prompt(mbpp[11], shots)
    blocks = prompt.split("You are an expert Python programmer, and here is your task: ")[1:]
    assert len(blocks) == 4  # exemplars 2, 3, 4, then the task
    for block, task_id in zip(blocks, (2, 3, 4)):
        row = mbpp[task_id]
        code = row["code"].replace("\r", "").replace("\t", "    ")
        assert block == (f"{row['text']} Your code should pass these tests:\n\n" + "\n".join(row["test_list"])
                         + f"\n[BEGIN]\n{code}\n[DONE]\n")
    task = mbpp[11]
    assert blocks[3] == f"{task['text']} Your code should pass these tests:\n\n" + "\n".join(task["test_list"]) + "\n[BEGIN]"
    assert "\r" not in prompt and "\t" not in prompt


def test_mbpp_prompt_drops_exemplars_that_do_not_fit(mbpp: dict) -> None:
    shots = B.mbpp_shots(mbpp)
    full = B.mbpp_prompt(mbpp[11], shots)
    two = B.mbpp_prompt(mbpp[11], shots, fits=lambda text: len(text) < len(full))
    assert two.count("[DONE]") == 2 and full.endswith(two[two.index("You are", len(shots[1]) - 1):])
    none = B.mbpp_prompt(mbpp[11], shots, fits=lambda text: False)
    assert none.count("[DONE]") == 0 and none.startswith("You are an expert Python programmer")


def test_mbpp_completion_and_program(mbpp: dict) -> None:
    assert B.mbpp_completion("\ndef f(x):\n    return x\n[DONE]\nYou are an expert") == "def f(x):\n    return x"
    program = B.mbpp_program(mbpp[11], "def f(): pass")
    lines = program.splitlines()
    assert lines[: len(B.MBPP_IMPORT_HELPER)] == list(B.MBPP_IMPORT_HELPER)
    assert lines[-len(mbpp[11]["test_list"]):] == mbpp[11]["test_list"]


def test_humaneval_stops_cut_at_the_first_top_level_statement() -> None:
    raw = "    return a + b\n\n\ndef other():\n    pass\n"
    assert B.humaneval_completion(raw) == "    return a + b\n\n"
    assert B.humaneval_completion("    x = 1\n    if x:\n        pass\nif __name__") == "    x = 1\n    if x:\n        pass"
    assert truncate_at_stops("a#b\n#c\nprint", HUMANEVAL_STOPS) == "a#b"
    assert truncate_at_stops("abc", ()) == "abc"


def test_humaneval_program_is_human_evals_check_program() -> None:
    p = B.load_humaneval()[0]
    program = B.humaneval_program(p, "    return True\n")
    assert program == p["prompt"] + "    return True\n" + "\n" + p["test"] + "\n" + f"check({p['entry_point']})"
    assert B.humaneval_prompt(p) == p["prompt"].strip()


def test_first_line_skips_blank_lines() -> None:
    assert first_line("\n\n    x = 1\n    y = 2\n") == "\n\n    x = 1\n"
    assert first_line("no newline") == "no newline"
    assert B.fim_completion("a\nb", stop_at_newline=True) == "a\n"
    assert B.fim_completion("a\nb", stop_at_newline=False) == "a\nb"
    assert B.fim_exact("  x = 1 \n", "x = 1\n") and not B.fim_exact("x = 2", "x = 1")


def test_subset_is_evenly_spread_and_deterministic() -> None:
    items = list(range(100))
    assert B.subset(items, 4) == [0, 25, 50, 75]
    assert B.subset(items, None) == items and B.subset(items, 500) == items
    assert B.subset(items, 7) == B.subset(items, 7) and len(set(B.subset(items, 33))) == 33


def test_fim_rows_have_the_fields_we_use() -> None:
    row = B.load_humaneval_fim(ASSETS)[0]
    assert {"task_id", "prompt", "suffix", "canonical_solution", "test", "entry_point"} <= set(row)
    assert json.dumps(row)  # plain JSON types
