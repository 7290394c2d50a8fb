from __future__ import annotations

import random

import numpy as np

import tasks.dedup.shingles as shingles_mod
from tasks.dedup.shingles import document_shingles, shingle_hashes, token_hashes


def _random_text(rnd: random.Random, n_tokens: int) -> bytes:
    alphabet = b"abcXYZ_.,()[]0189=\xc3\xa9"
    out = bytearray(rnd.choice([b"", b"  ", b"\n\t"]))
    for _ in range(n_tokens):
        length = rnd.choice([1, 3, 7, 8, 9, 15, 16, 17, 23, 24, 25, 64, 200])
        out += bytes(rnd.choice(alphabet) for _ in range(length))
        out += rnd.choice([b" ", b"\n", b"\t", b"\r\n", b"\x0b", b"\x0c", b"    "])
    return bytes(out)


def test_tokens_follow_bytes_split_and_equal_tokens_hash_equal():
    rnd = random.Random(3)
    for _ in range(50):
        data = _random_text(rnd, rnd.randint(0, 40))
        tokens = data.split()
        hashes = token_hashes(data)
        assert len(hashes) == len(tokens)
        by_token: dict[bytes, int] = {}
        for tok, h in zip(tokens, hashes.tolist()):
            assert by_token.setdefault(tok, h) == h
        # distinct tokens get distinct hashes (64-bit: a collision here would be a bug)
        assert len(set(by_token.values())) == len(by_token)


def test_tokens_differing_in_one_byte_anywhere_hash_differently():
    base = bytearray(b"x" * 40)
    seen = {int(token_hashes(bytes(base))[0])}
    for pos in range(40):
        changed = bytearray(base)
        changed[pos] = ord("y")
        seen.add(int(token_hashes(bytes(changed))[0]))
    for length in range(1, 40):                      # prefixes: same bytes, other length
        seen.add(int(token_hashes(bytes(base[:length]))[0]))
    assert len(seen) == 1 + 40 + 39


def test_whitespace_layout_does_not_change_shingles_but_order_does():
    a = "def f(x):\n    return x + 1\n"
    b = "def   f(x):\treturn\n\nx + 1"
    assert np.array_equal(document_shingles([a], 3), document_shingles([b], 3))
    c = "def f(x):\n    return 1 + x\n"
    assert not np.array_equal(document_shingles([a], 3), document_shingles([c], 3))


def test_shingle_count_and_short_documents():
    toks = token_hashes("a b c d e f g")
    assert len(shingle_hashes(toks, 5)) == 3
    assert len(shingle_hashes(toks[:2], 5)) == 1    # fewer tokens than n: one shingle of them all
    assert len(shingle_hashes(toks[:0], 5)) == 0
    assert len(document_shingles(["", None, "  \n"], 5)) == 0


def test_samples_read_as_one_document():
    parts = ["alpha beta gamma", "delta epsilon", "zeta eta theta iota"]
    assert np.array_equal(document_shingles(parts, 4), document_shingles(["\n".join(parts)], 4))


def test_block_splitting_gives_the_same_hashes(monkeypatch):
    rnd = random.Random(9)
    data = _random_text(rnd, 3000)
    whole = token_hashes(data)
    monkeypatch.setattr(shingles_mod, "_BLOCK", 257)
    assert np.array_equal(token_hashes(data), whole)
