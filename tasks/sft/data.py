"""Instruction rows -> token ids and labels in DeepSeek-Coder-Instruct's format, loss on the response only.

A row of data/instruct/instruct.jsonl (the oss_instruct stage's contract) becomes, as in DeepSeek-Coder's
`finetune_deepseekcoder.py`:

    <BOS>{system}
    ### Instruction:
    {instruction}
    ### Response:
    {response}
    <|EOT|>

Prompt and response are encoded separately and concatenated, so the boundary between the masked prompt
(label -100, ignored by the loss) and the trained response is exact whatever BPE would merge across it;
the response's labels include the `\\n` and the `<|EOT|>` id, so the model learns to end its turn.
A malformed row or one that does not fit is dropped with a recorded reason, never a crash.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from tasks.tokenizer.special import SpecialIds, special_ids

IGNORE = -100  # torch's cross_entropy ignore_index


def format_prompt(instruction: str, system: str) -> str:
    """Everything the model is given (after BOS): system line, instruction, response header."""
    return f"{system}\n### Instruction:\n{instruction.strip()}\n### Response:\n"


def format_response(response: str) -> str:
    """The trained text before the `<|EOT|>` token."""
    return f"{response}\n"


@dataclass(frozen=True)
class Example:
    id: str
    ids: np.ndarray     # int64, BOS + prompt + response + EOT
    labels: np.ndarray  # int64, IGNORE on BOS + prompt, the token itself on response + EOT
    truncated: bool = False

    @property
    def n_loss(self) -> int:
        """Tokens that carry loss: each label but the first is predicted from the tokens before it."""
        return int((self.labels[1:] != IGNORE).sum())


@dataclass
class Encoded:
    examples: list[Example]
    rows: int = 0
    dropped: Counter = field(default_factory=Counter)
    truncated: int = 0
    langs: Counter = field(default_factory=Counter)

    def stats(self) -> dict[str, Any]:
        lengths = [len(e.ids) for e in self.examples]
        return {"rows": self.rows, "examples": len(self.examples), "dropped": dict(sorted(self.dropped.items())),
                "truncated": self.truncated, "langs": dict(sorted(self.langs.items())),
                "tokens": int(sum(lengths)), "response_tokens": int(sum(e.n_loss for e in self.examples)),
                "max_len": max(lengths, default=0), "mean_len": round(float(np.mean(lengths)), 3) if lengths else 0.0}


def read_rows(path: str | os.PathLike) -> tuple[list[dict[str, Any]], Counter]:
    """JSON objects of a JSONL file, in file order; unparsable lines are counted, not raised."""
    rows, bad = [], Counter()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad["bad_json"] += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad["bad_json"] += 1
    return rows, bad


def has_rows(path: str | os.PathLike) -> bool:
    """Whether the file has any non-blank line (the oss_instruct stage writes an empty file when off)."""
    with open(path, encoding="utf-8") as fh:
        return any(line.strip() for line in fh)


def encode_example(row: dict[str, Any], tokenizer: Any, ids: SpecialIds, system: str, max_len: int,
                   overlong: str) -> tuple[Example | None, str | None]:
    """(example, None) or (None, drop reason)."""
    instruction, response = row.get("instruction"), row.get("response")
    if not isinstance(instruction, str) or not isinstance(response, str):
        return None, "missing_field"
    if not instruction.strip() or not response.strip():
        return None, "empty_field"
    prompt = [ids.bos, *tokenizer.encode(format_prompt(instruction, system), add_special_tokens=False).ids]
    answer = [*tokenizer.encode(format_response(response), add_special_tokens=False).ids, ids.eot]
    truncated = False
    if len(prompt) + len(answer) > max_len:
        if overlong == "drop":
            return None, "too_long"
        if len(prompt) >= max_len:
            return None, "prompt_too_long"  # no room left for a single response token
        answer, truncated = answer[:max_len - len(prompt)], True
    tokens = np.asarray(prompt + answer, dtype=np.int64)
    labels = tokens.copy()
    labels[:len(prompt)] = IGNORE
    return Example(str(row.get("id", "")), tokens, labels, truncated), None


def encode_rows(rows: Iterable[dict[str, Any]], tokenizer: Any, system: str, max_len: int,
                overlong: str = "truncate") -> Encoded:
    ids = special_ids(tokenizer)
    out = Encoded([])
    for row in rows:
        out.rows += 1
        example, reason = encode_example(row, tokenizer, ids, system, max_len, overlong)
        if example is None:
            out.dropped[reason] += 1
            continue
        out.examples.append(example)
        out.truncated += example.truncated
        out.langs[str(row.get("lang") or "unknown")] += 1
    return out


def load_examples(path: str | os.PathLike, tokenizer_path: str | os.PathLike, system: str, max_len: int,
                  overlong: str = "truncate") -> Encoded:
    from tokenizers import Tokenizer

    rows, bad = read_rows(path)
    encoded = encode_rows(rows, Tokenizer.from_file(str(tokenizer_path)), system, max_len, overlong)
    encoded.rows += sum(bad.values())
    encoded.dropped.update(bad)
    return encoded


def collate(examples: Sequence[Example], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and shifted targets (batch, longest - 1), right-padded: padding comes after every real
    token, so under causal attention it changes nothing before it, and its targets are IGNORE."""
    width = max(len(e.ids) for e in examples)
    x = np.full((len(examples), width - 1), pad_id, dtype=np.int64)
    y = np.full((len(examples), width - 1), IGNORE, dtype=np.int64)
    for r, e in enumerate(examples):
        n = len(e.ids) - 1
        x[r, :n] = e.ids[:-1]
        y[r, :n] = e.labels[1:]
    return x, y
