"""FIM: layouts decode back to the document, the rate is binomial, the stream is per document."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
from tokenizers import Tokenizer

from tasks.pack import fim
from tasks.pack.encode import load_tokenizer
from tasks.tokenizer.special import special_ids
from pack_corpus import ODD, make_rows, train_small_tokenizer, write_clean


@pytest.fixture(scope="module")
def tok(tmp_path_factory) -> Tokenizer:
    base = tmp_path_factory.mktemp("fimtok")
    clean = write_clean(base / "clean", make_rows(30))
    return load_tokenizer(str(train_small_tokenizer(clean, base / "tok")))


def _encode_doc(tok, text, p, add_bos=True):
    segs = fim.segments(text, p)
    encs = tok.encode_batch_fast(segs, add_special_tokens=False)
    return fim.layout(p, [e.ids for e in encs], special_ids(tok), add_bos)


@pytest.mark.parametrize("mode", [fim.PSM, fim.SPM])
def test_layout_decodes_back_to_document(tok, mode):
    sp = special_ids(tok)
    rng = random.Random(mode)
    texts = ["", "a", "é😀", "def f(x):\r\n\treturn x\u00a0+ 1\u200b\n", "".join(ODD) * 3]
    texts += ["".join(rng.choice("ab \n\té😀日<|>") for _ in range(rng.randint(0, 80))) for _ in range(60)]
    decode = lambda ids: tok.decode(ids, skip_special_tokens=False)  # noqa: E731
    for text in texts:
        for _ in range(5):
            lo, hi = sorted(rng.randint(0, len(text)) for _ in range(2))
            p = fim.FimPlan(mode, lo, hi)
            ids = _encode_doc(tok, text, p)
            assert fim.restore(ids, decode, sp) == text
            assert ids[0] == sp.bos and ids[-1] == sp.eos
            for s in (sp.fim_begin, sp.fim_hole, sp.fim_end):
                assert ids.count(s) == 1  # sentinels by id only, even with "<|EOT|>" etc. in the text
            prefix, middle, suffix = text[:lo], text[lo:hi], text[hi:]
            hole, end = ids.index(sp.fim_hole), ids.index(sp.fim_end)
            if mode == fim.PSM:
                assert ids[1] == sp.fim_begin
                assert decode(ids[2:hole]) == prefix and decode(ids[hole + 1:end]) == suffix
                assert decode(ids[end + 1:-1]) == middle
            else:
                assert ids[1:3] == [sp.fim_begin, sp.fim_hole]
                assert decode(ids[3:end]) == suffix and decode(ids[end + 1:-1]) == prefix + middle


def test_plain_document_and_no_bos(tok):
    sp = special_ids(tok)
    ids = _encode_doc(tok, "x <|EOT|> y", fim.FimPlan(fim.PLAIN), add_bos=False)
    assert ids[-1] == sp.eos and sp.bos not in ids and sp.eot not in ids
    assert tok.decode(ids[:-1], skip_special_tokens=False) == "x <|EOT|> y"


def test_fim_rate_within_binomial_bounds():
    n, rate, spm = 4000, 0.5, 0.3
    plans = [fim.plan(100, fim.doc_rng(11, f"repo{i % 97}", i), rate, spm) for i in range(n)]
    k = sum(p.mode != fim.PLAIN for p in plans)
    assert abs(k - n * rate) <= 4 * math.sqrt(n * rate * (1 - rate))
    s = sum(p.mode == fim.SPM for p in plans)
    assert abs(s - k * spm) <= 4 * math.sqrt(k * spm * (1 - spm))
    cuts = np.array([(p.lo, p.hi) for p in plans if p.mode != fim.PLAIN])
    assert (cuts[:, 0] <= cuts[:, 1]).all() and cuts.min() >= 0 and cuts.max() <= 100
    # uniform cut points: the mean of lo,hi of a sorted uniform pair is ~1/3 and ~2/3 of the length
    assert abs(cuts[:, 0].mean() - 100 / 3) < 3 and abs(cuts[:, 1].mean() - 200 / 3) < 3
    assert all(fim.plan(100, fim.doc_rng(11, "r", 5), 0.0, spm).mode == fim.PLAIN for _ in range(3))


def test_per_document_stream_ignores_order_and_other_documents():
    ids = [("a", 0), ("b", 1), ("c", 0), ("a", 1)]
    forward = {d: fim.plan(50, fim.doc_rng(3, *d), 0.5, 0.5) for d in ids}
    backward = {d: fim.plan(50, fim.doc_rng(3, *d), 0.5, 0.5) for d in reversed(ids)}
    assert forward == backward
    other_seed = [fim.plan(50, fim.doc_rng(4, *d), 0.5, 0.5) for d in ids]
    assert other_seed != [forward[d] for d in ids]


def test_long_documents_are_encoded_in_pieces_with_identical_ids(tok):
    from tasks.pack.encode import split_long
    rng = random.Random(9)
    lines = ["def f(x):", "    return x  # é😀", "", "\tz = [1, 2]", "class A:  ", "  ", "x\u00a0= 'y'"]
    text = "\n".join(rng.choice(lines) for _ in range(400)) + "\n"
    pieces = split_long(text, 300)
    assert len(pieces) > 5 and "".join(pieces) == text and max(map(len, pieces)) <= 300
    whole = tok.encode(text, add_special_tokens=False).ids
    joined = [i for p in pieces for i in tok.encode(p, add_special_tokens=False).ids]
    assert joined == whole
    one_line = "x" * 1000 + "\r\n" + "é" * 700
    hard = split_long(one_line, 256)
    assert "".join(hard) == one_line and max(map(len, hard)) <= 256
    ids = [i for p in hard for i in tok.encode(p, add_special_tokens=False).ids]
    assert tok.decode(ids, skip_special_tokens=False) == one_line
