"""The paper's multilingual benchmarks (DeepSeek-Coder §4.1-4.2), independent of any model: HumanEval in seven
more languages (MultiPL-E translations), single-line FIM in Python, Java and JavaScript (SantaCoder's
benchmark from MultiPL-E's FIM sources) and the LeetCode Contest.

As in `benchmarks.py`, each is data + prompt + completion cut + test program, pure functions, so the oracle
checks and a real evaluation share one code path. The programs are built exactly as DeepSeek-Coder's
Evaluation/HumanEval/human_eval/evaluation.py (`process_humaneval_test`) and Evaluation/LeetCode build them.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from tasks.evaluate.benchmarks import REPO_ROOT, fim_prompt
from tasks.evaluate.stops import truncate_at_stops

HUMANEVAL_LANGUAGES = ("cpp", "java", "php", "ts", "cs", "sh", "js")  # Python is the `humaneval` benchmark
FIM_LANGUAGES = ("py", "java", "js")
# The paper's column order (§4.1); Python's column comes from the `humaneval` benchmark.
TABLE_LANGUAGES = ("python", "cpp", "java", "php", "ts", "cs", "sh", "js")
LANGUAGE_NAMES = {"python": "Python", "py": "Python", "cpp": "C++", "java": "Java", "php": "PHP",
                  "ts": "TypeScript", "cs": "C#", "sh": "Bash", "js": "JavaScript"}
LEETCODE_FILE = "leetcode-20240121-Jul.jsonl"
DIFFICULTIES = ("Easy", "Medium", "Hard")

# DeepSeek's utils.cleanup_code adds these to TypeScript's stop tokens.
TS_EXTRA_STOPS = ("\nexport", "\nimport", "\nexport default", "\nimport default", "\nconsole.log")
# DeepSeek's evaluation.py IMPORT_HELPER: C++ lines are added when the prompt lacks them, C# lines always.
CPP_HELPER = ("#include<stdlib.h>", "#include<algorithm>", "#include<math.h>", "#include<stdio.h>",
              "#include<vector>", "#include<string>", "#include<climits>", "#include<cstring>",
              "#include<iostream>", "#include<cassert>")
CS_HELPER = ("using System.Numerics;", "using System.Diagnostics;", "using System.Collections.Generic;",
             "using System.Linq;", "using System.Text;", "using System.Security.Cryptography;",
             "using System.Collections.Generic;")
# Evaluation/LeetCode/human_eval/evaluation.py prepends these; its extract_python_code cuts at these.
LEETCODE_IMPORTS = ("import math", "import re", "import sys", "import copy", "import datetime", "import itertools",
                    "import collections", "import heapq", "import functools", "import hashlib", "import numpy",
                    "import numpy as np", "import string", "from typing import *", "from collections import *",
                    "from functools import *")
LEETCODE_STOPS = ("\ndef", "\nclass", "\nif", "\n#", "\nprint")


def data_dir(multilingual_dir: str | os.PathLike) -> Path:
    base = Path(multilingual_dir)
    return base if base.is_absolute() else REPO_ROOT / base


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def problem_number(task_id: str) -> int:
    """`HumanEval_23_strlen` -> 23 (MultiPL-E's files are not in problem order)."""
    return int(task_id.split("_")[1])


# ---------------------------------------------------------------- HumanEval, other languages
def load_humaneval(multilingual_dir: str | os.PathLike, language: str) -> list[dict[str, Any]]:
    rows = _jsonl(data_dir(multilingual_dir) / f"humaneval-{language}.jsonl")
    return sorted(rows, key=lambda r: problem_number(r["task_id"]))


def humaneval_prompt(problem: dict[str, Any]) -> str:
    return problem["prompt"].strip()  # DeepSeek's HumanEvalDataset strips every prompt


def humaneval_stops(problem: dict[str, Any], language: str) -> tuple[str, ...]:
    return tuple(problem["stop_tokens"]) + (TS_EXTRA_STOPS if language == "ts" else ())


def humaneval_completion(raw: str, problem: dict[str, Any], language: str) -> str:
    return truncate_at_stops(raw, humaneval_stops(problem, language))


def humaneval_program(problem: dict[str, Any], completion: str, language: str) -> str:
    """DeepSeek's program: the original prompt, a newline, the completion, then the language's tests."""
    code = problem["prompt"] + "\n" + completion
    test = problem["tests"]
    if language == "cpp":
        setup = "".join(line + "\n" for line in CPP_HELPER if line not in problem["prompt"])
        return setup + "\n" + code + "\n" + test
    if language == "cs":
        return "".join(line + "\n" for line in CS_HELPER) + "\n" + code + "\n" + test
    if language == "php":
        code = code if code.startswith("<?php") else "<?php\n" + code
        return code + "\n" + test + "?>"
    return code + "\n" + test


# ---------------------------------------------------------------- single-line FIM, three languages
def load_fim_lines(multilingual_dir: str | os.PathLike, language: str) -> list[dict[str, Any]]:
    """One task per non-blank line of each canonical body, masked in turn: prefix = prompt + the lines
    above, suffix = the lines below, target = the line. Blank lines are left out: an empty infill would
    match them, which says nothing about the model."""
    with open(data_dir(multilingual_dir) / f"fim-humaneval-{language}.json", encoding="utf-8") as fh:
        problems = json.load(fh)
    tasks = []
    for p_index, problem in enumerate(problems):
        body = problem["body"]
        for i, line in enumerate(body):
            if not line.strip():
                continue
            prefix = problem["prompt"] + "".join(b + "\n" for b in body[:i])
            suffix = "".join(b + "\n" for b in body[i + 1:])
            tasks.append({"task_id": f"{language}/{p_index}/{i}", "prompt": fim_prompt(prefix, suffix),
                          "target": line})
    return tasks


# ---------------------------------------------------------------- LeetCode Contest
def load_leetcode(multilingual_dir: str | os.PathLike) -> list[dict[str, Any]]:
    return _jsonl(data_dir(multilingual_dir) / LEETCODE_FILE)


def leetcode_prompt(problem: dict[str, Any]) -> str:
    """The `prompt` field (problem statement as a docstring, then the `class Solution` stub), stripped as
    DeepSeek strips completion prompts: the model writes the newline and indentation of the body."""
    return problem["prompt"].strip()


def leetcode_completion(raw: str) -> str:
    return truncate_at_stops(raw, LEETCODE_STOPS)


def leetcode_program(problem: dict[str, Any], completion: str) -> str:
    """Evaluation/LeetCode: import helper, the stub with the completed body, then the ~100 asserts."""
    return "\n".join(LEETCODE_IMPORTS) + "\n" + leetcode_prompt(problem) + completion + "\n" + problem["test"] + "\n"


def difficulty(problem: dict[str, Any]) -> str:
    return str(problem.get("meta", {}).get("difficulty", "unknown"))


def by_difficulty(problems: Sequence[dict[str, Any]], passed: Sequence[bool]) -> dict[str, dict[str, Any]]:
    """DeepSeek's Easy / Medium / Hard breakdown: n, passed and pass@1 (null over no problem)."""
    out: dict[str, dict[str, Any]] = {}
    for level in DIFFICULTIES:
        hits = [ok for p, ok in zip(problems, passed) if difficulty(p) == level]
        out[level] = {"n": len(hits), "n_passed": sum(hits),
                      "pass@1": round(sum(hits) / len(hits), 6) if hits else None}
    return out
