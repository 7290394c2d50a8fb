"""Where a completion ends: the first stop sequence, as in the Codex / bigcode harnesses."""
from __future__ import annotations

from typing import Sequence

# HumanEval (Codex paper + bigcode-evaluation-harness): a new top-level statement ends the function.
HUMANEVAL_STOPS = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```")
MBPP_STOPS = ("[DONE]",)


def truncate_at_stops(text: str, stops: Sequence[str]) -> str:
    """`text` up to (not including) the earliest occurrence of any stop sequence."""
    cut = len(text)
    for stop in stops:
        if stop:
            i = text.find(stop)
            if 0 <= i < cut:
                cut = i
    return text[:cut]


def first_line(text: str) -> str:
    """The first line that has content, with its newline: a single-line infill or next-line guess."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            return text
        if text[:end].strip():
            return text[: end + 1]
        start = end + 1
