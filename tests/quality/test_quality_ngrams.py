import re
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest

from tasks.quality.ngrams import rolling_grams, text_grams, tokenize_batch

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = 'def f(x_1):\n    return "héllo" + x_1[0]  # ünïcode ok\n\tprint(f(3))\n'


PUNCT = "".join(chr(c) for c in range(128) if not (chr(c).isalnum() or chr(c) in "_ \t\n\r\x0b\x0c"))


def _reference_tokens(text: str, unit: str) -> list[str]:
    if unit == "word":
        words = [w.strip(PUNCT) for w in re.split(r"[ \t\n\r\x0b\x0c]+", text)]
        return [w for w in words if w]
    if unit == "alnum":
        return re.findall(r"[A-Za-z0-9_\x80-\U0010ffff]+", text)
    return re.findall(r"[A-Za-z0-9_\x80-\U0010ffff]+|[^\sA-Za-z0-9_\x80-\U0010ffff]", text)


@pytest.mark.parametrize("unit", ["token", "word", "alnum"])
def test_token_count_matches_reference_tokenizer(unit):
    texts = [SAMPLE, "", "a", "  x  y  ", "((a+b))", "# = } 'quoted,' (x)"]
    batch = tokenize_batch(texts, unit)
    counts = batch.counts()
    assert [int(c) for c in counts] == [len(_reference_tokens(t, unit)) for t in texts]


@pytest.mark.parametrize("unit", ["token", "word", "alnum"])
def test_equal_tokens_hash_equal_and_distinct_tokens_differ(unit):
    toks = _reference_tokens(SAMPLE, unit)
    batch = tokenize_batch([SAMPLE], unit, lowercase=False)
    by_token = {}
    for tok, h in zip(toks, batch.hashes.tolist()):
        assert by_token.setdefault(tok, h) == h
    assert len(set(by_token.values())) == len(by_token)


def test_whitespace_and_case_do_not_matter_but_content_does():
    a = text_grams("x = a+b\n  y", 3, unit="token")
    b = text_grams("X   =  a + b y", 3, unit="token")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, text_grams("x = a-b y", 3, unit="token"))
    assert not np.array_equal(a, text_grams("X = A+B y", 3, unit="token", lowercase=False))


def test_gram_hash_is_position_independent():
    g1 = text_grams("foo bar baz qux", 3, unit="word")
    g2 = text_grams("zzz foo bar baz", 3, unit="word")
    assert g1[0] == g2[1] and g1[1] != g2[0]


def test_grams_never_span_two_texts():
    batch = tokenize_batch(["a b", "c d"], "word")
    grams, owner, start = rolling_grams(batch, [3])[3]
    assert grams.size == 0
    grams, owner, start = rolling_grams(batch, [2])[2]
    assert owner.tolist() == [0, 1]
    assert np.array_equal(grams[1:], text_grams("c d", 2, unit="word"))


def test_rolling_sizes_agree_with_single_size():
    text = " ".join(f"w{i % 7}" for i in range(40))
    batch = tokenize_batch([text], "word")
    multi = rolling_grams(batch, [3, 5, 10])
    for k in (3, 5, 10):
        assert np.array_equal(multi[k][0], text_grams(text, k, unit="word"))
        assert multi[k][0].size == 40 - k + 1


def test_wordlike_flags():
    batch = tokenize_batch(["[0, 1, x2, ab, é, 1st, __init__"], "word", with_wordlike=True)
    assert batch.wordlike.tolist() == [False, False, False, True, True, True, True]


def test_word_unit_ignores_edge_punctuation():
    a = text_grams('# "Compute the sum," she said', 3, unit="word")
    b = text_grams("compute the sum she said", 3, unit="word")
    assert np.array_equal(a, b)
    assert not np.array_equal(text_grams("range(len(x)) a b", 3, unit="word"),
                              text_grams("range len x a b", 3, unit="word"))


def test_hashes_are_stable_across_processes():
    code = ("from tasks.quality.ngrams import text_grams;"
            "print(text_grams('for i in range(10): total += i * 2', 4).tolist())")
    here = text_grams("for i in range(10): total += i * 2", 4).tolist()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=ROOT)
    assert eval(out.stdout) == here


def test_power_tables_beyond_the_cache_bound_give_the_same_hashes(monkeypatch):
    from tasks.quality import ngrams

    text = " ".join(f"word{i % 50}" for i in range(3000))
    expected = text_grams(text, 10)
    monkeypatch.setattr(ngrams, "_MAX_CACHED_POWERS", 1024)
    monkeypatch.setattr(ngrams, "_POWERS", [])
    assert np.array_equal(text_grams(text, 10), expected)
    assert ngrams._POWERS == []  # too big to keep
