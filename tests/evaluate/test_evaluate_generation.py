"""Batched, KV-cached generation against a plain loop, on a tiny random Llama checkpoint."""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tasks.evaluate.generation import GenSettings, HFGenerator, load_model  # noqa: E402
from tasks.evaluate.stops import truncate_at_stops  # noqa: E402

PROMPTS = ["def add(a, b):\n", "import math\nx = math.sqrt(16)\nassert x == 4.0\nclass Stack:\n", "x"]


@pytest.fixture(scope="module")
def loaded(tiny_model_dir: Path):
    return load_model(tiny_model_dir, "cpu", "float32")


def greedy_without_cache(model, tokenizer, ids: list[int], n: int) -> str:
    """The reference: full forward pass per step, argmax, stop at EOS."""
    seq = torch.tensor([ids])
    new: list[int] = []
    with torch.no_grad():
        for _ in range(n):
            nxt = int(model(input_ids=seq, use_cache=False).logits[0, -1].argmax())
            new.append(nxt)
            if nxt == tokenizer.eos_token_id:
                break
            seq = torch.cat([seq, torch.tensor([[nxt]])], dim=1)
    return tokenizer.decode(new, skip_special_tokens=True)


def test_bare_tokenizer_gets_special_tokens(loaded) -> None:
    _, tok = loaded
    assert tok.eos_token == "<\uff5cend\u2581of\u2581sentence\uff5c>"
    assert tok.pad_token_id == tok.eos_token_id
    assert tok("x")["input_ids"][0] == tok.bos_token_id  # BOS from the tokenizer's post-processor


def test_batched_left_padded_generation_equals_plain_greedy(loaded) -> None:
    model, tok = loaded
    one = HFGenerator(model, tok, GenSettings(batch_size=1, max_new_tokens=8)).generate(PROMPTS)
    batched = HFGenerator(model, tok, GenSettings(batch_size=2, max_new_tokens=8)).generate(PROMPTS)
    gen = HFGenerator(model, tok, GenSettings(max_new_tokens=8))
    reference = [greedy_without_cache(model, tok, gen.encode(p), 8) for p in PROMPTS]
    assert batched == one == reference
    assert len(set(reference)) > 1


def test_stop_strings_end_rows_early_and_independently(loaded) -> None:
    model, tok = loaded
    gen = HFGenerator(model, tok, GenSettings(batch_size=4, max_new_tokens=12))
    free = gen.generate(PROMPTS)
    row = max(range(len(free)), key=lambda i: len(free[i]))
    text = free[row]
    assert len(text) > 8
    stop = next(text[i:i + 2] for i in range(2, len(text) - 4)
                if text[i:i + 2].strip() and all(text[i:i + 2] not in free[j] for j in range(len(free)) if j != row))
    stopped = gen.generate(PROMPTS, stops=[stop])
    assert stop in stopped[row] and len(stopped[row]) < len(text) and text.startswith(stopped[row])
    assert truncate_at_stops(stopped[row], [stop]) == truncate_at_stops(text, [stop])
    assert [s for i, s in enumerate(stopped) if i != row] == [f for i, f in enumerate(free) if i != row]


def test_long_prompts_keep_their_tail(loaded) -> None:
    model, tok = loaded
    gen = HFGenerator(model, tok, GenSettings(max_new_tokens=8, max_seq_len=48))
    long_prompt = "def add(a, b):\n    return a + b\n" * 20
    ids = gen.encode(long_prompt)
    assert len(ids) > 48
    assert gen.generate([long_prompt]) == [greedy_without_cache(model, tok, ids[-40:], 8)]
    assert gen.fits("x", 8) and not gen.fits(long_prompt, 8)


def test_sampling_is_seeded(loaded) -> None:
    model, tok = loaded
    gen = HFGenerator(model, tok, GenSettings(batch_size=4, max_new_tokens=8, temperature=1.0, seed=5))
    a = gen.generate(PROMPTS, tag="humaneval")
    assert a == gen.generate(PROMPTS, tag="humaneval")
    assert a != gen.generate(PROMPTS, tag="mbpp")
