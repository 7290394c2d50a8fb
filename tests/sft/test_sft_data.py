"""DeepSeek-Coder-Instruct formatting and label masking: only response and <|EOT|> tokens carry loss."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sft_testutil import SYSTEM, instruct_rows

from tasks.sft.config import DEEPSEEK_SYSTEM
from tasks.sft.data import IGNORE, collate, encode_rows, format_prompt, format_response, load_examples
from tasks.tokenizer.special import BOS, EOT, PAD


@pytest.fixture(scope="module")
def tok(tokenizer_path: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_path))


def test_format_is_deepseek_coder_instruct() -> None:
    # DeepSeek-Coder's finetune_deepseekcoder.py: build_instruction_prompt + f"{output}\n{EOT_TOKEN}"
    text = format_prompt("  Sort a list.\n", DEEPSEEK_SYSTEM) + format_response("```python\nsorted(x)\n```") + EOT
    assert text == (DEEPSEEK_SYSTEM + "\n### Instruction:\nSort a list.\n### Response:\n"
                    "```python\nsorted(x)\n```\n<|EOT|>")
    assert DEEPSEEK_SYSTEM.startswith("You are an AI programming assistant, utilizing the DeepSeek Coder model")


def test_only_response_and_eot_tokens_carry_loss(tok) -> None:
    row = instruct_rows()[0]
    enc = encode_rows([row], tok, SYSTEM, max_len=512)
    (ex,) = enc.examples
    eot, bos = tok.token_to_id(EOT), tok.token_to_id(BOS)
    assert eot == 5 and bos == 0  # tasks/tokenizer/special.py layout
    prompt = [bos, *tok.encode(format_prompt(row["instruction"], SYSTEM), add_special_tokens=False).ids]
    response = tok.encode(format_response(row["response"]), add_special_tokens=False).ids
    assert ex.ids.tolist() == prompt + response + [eot]
    n = len(prompt)
    assert (ex.labels[:n] == IGNORE).all()
    assert ex.labels[n:].tolist() == response + [eot]
    assert ex.n_loss == len(response) + 1
    # the decoded trained part is exactly the response, its newline and the end-of-turn token
    assert tok.decode(ex.labels[n:].tolist(), skip_special_tokens=False) == row["response"] + "\n" + EOT


def test_collate_shifts_and_pads_with_ignored_targets(tok) -> None:
    rows = instruct_rows()[:2]
    rows[1] = {**rows[1], "response": rows[1]["response"] + "\n# a longer answer with more tokens"}
    a, b = encode_rows(rows, tok, SYSTEM, max_len=512).examples
    x, y = collate([a, b], tok.token_to_id(PAD))
    width = max(len(a.ids), len(b.ids)) - 1
    assert x.shape == y.shape == (2, width)
    assert x[0, :len(a.ids) - 1].tolist() == a.ids[:-1].tolist() and y[0, :len(a.ids) - 1].tolist() == a.labels[1:].tolist()
    assert (x[0, len(a.ids) - 1:] == tok.token_to_id(PAD)).all() and (y[0, len(a.ids) - 1:] == IGNORE).all()
    assert int((y != IGNORE).sum()) == a.n_loss + b.n_loss
    assert y[1, len(b.ids) - 2] == tok.token_to_id(EOT)  # the last target of a row is its EOT


def test_overlong_rows_are_truncated_or_dropped(tok) -> None:
    long = {**instruct_rows()[0], "response": "```python\n" + "x = 1\n" * 80 + "```"}
    enc = encode_rows([long], tok, SYSTEM, max_len=64, overlong="truncate")
    (ex,) = enc.examples
    assert len(ex.ids) == 64 and ex.truncated and enc.truncated == 1
    assert ex.labels[-1] != IGNORE and tok.token_to_id(EOT) not in ex.ids.tolist()
    assert encode_rows([long], tok, SYSTEM, max_len=64, overlong="drop").dropped == {"too_long": 1}
    assert encode_rows([long], tok, "word " * 80, max_len=64).dropped == {"prompt_too_long": 1}


def test_bad_rows_are_dropped_with_a_reason(tokenizer_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "instruct.jsonl"
    lines = [json.dumps(instruct_rows()[0]), "{not json", json.dumps([1, 2]), json.dumps({"instruction": "x"}),
             json.dumps({"instruction": " ", "response": "y"})]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    enc = load_examples(path, tokenizer_path, SYSTEM, 512)
    stats = enc.stats()
    assert stats["rows"] == 5 and stats["examples"] == 1
    assert stats["dropped"] == {"bad_json": 2, "empty_field": 1, "missing_field": 1}
    assert stats["langs"] == {"python": 1} and stats["response_tokens"] == enc.examples[0].n_loss
    assert isinstance(stats["mean_len"], float) and np.isfinite(stats["mean_len"])
