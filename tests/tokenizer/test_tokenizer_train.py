"""Tokenizer stage: special tokens, round-trip, determinism, sampling, metrics, HF loading, config."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from tasks.common.params import ParamError
from tasks.tokenizer import config_from_params, train_tokenizer
from tasks.tokenizer.sampling import choose_training_sample, draw, iter_training_texts
from tokenizer_corpus import ODD, make_rows, write_clean

ROOT = Path(__file__).resolve().parents[2]
# Written with escapes on purpose: independent of the module under test.
EXPECTED_SPECIALS = [
    "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>",
    "<\uff5cfim\u2581begin\uff5c>", "<\uff5cfim\u2581hole\uff5c>", "<\uff5cfim\u2581end\uff5c>", "<|EOT|>",
]
CFG = {"vocab_size": 600, "sample_bytes": 10**7, "heldout_fraction": 0.25, "seed": 7}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("tok")
    rows = make_rows(40)
    clean = write_clean(base / "clean", rows)
    metrics = train_tokenizer(clean, base / "tok", config_from_params(CFG))
    return base, rows, metrics


def test_special_tokens_exact_strings_and_single_ids(trained):
    base, _, metrics = trained
    tok = Tokenizer.from_file(str(base / "tok" / "tokenizer.json"))
    ids = []
    for text in EXPECTED_SPECIALS:
        enc = tok.encode(text, add_special_tokens=False)
        assert enc.tokens == [text], text
        ids.append(enc.ids[0])
        assert tok.id_to_token(enc.ids[0]) == text
    assert len(set(ids)) == len(ids)
    pad = json.loads((base / "tok" / "special_tokens_map.json").read_text(encoding="utf-8"))["pad_token"]
    assert pad not in EXPECTED_SPECIALS and tok.encode(pad, add_special_tokens=False).tokens == [pad]
    assert set(metrics["special_tokens"]) == set(EXPECTED_SPECIALS) | {pad}


def test_roundtrip_every_language_and_odd_whitespace(trained):
    base, rows, _ = trained
    tok = Tokenizer.from_file(str(base / "tok" / "tokenizer.json"))
    by_lang: dict[str, list[str]] = {}
    for r in rows:
        for lang, content in zip(r["langs"], r["contents"]):
            by_lang.setdefault(lang, []).append(content)
    assert set(by_lang) == {"Python", "JavaScript", "Go", "Markdown"}
    odd = ["".join(ODD), "a\u00a0b\u200bc\u200dd\tе\r\nf", "🧑🏽‍🚀 \U0010FFFF \x00\x01", " leading and trailing  ",
           "ﬁ ligature, Ａ fullwidth, Ω, ｜▁", "never seen: ᚠᛇᚻ ꙮ"]
    for lang, texts in sorted(by_lang.items()):
        for text in texts + odd:
            ids = tok.encode(text, add_special_tokens=False).ids
            assert tok.decode(ids, skip_special_tokens=False) == text, (lang, text)
    # with the default post-processor BOS is prepended, and dropped again on decode
    enc = tok.encode("x = 1")
    assert enc.ids[0] == tok.token_to_id(EXPECTED_SPECIALS[0]) and tok.decode(enc.ids) == "x = 1"


def test_training_is_deterministic_across_runs_and_threads(trained, tmp_path):
    base, _, metrics = trained
    first = (base / "tok" / "tokenizer.json").read_bytes()
    train_tokenizer(base / "clean", tmp_path / "again", config_from_params(CFG))
    assert (tmp_path / "again" / "tokenizer.json").read_bytes() == first
    code = ("import sys; from tasks.tokenizer import train_tokenizer, config_from_params as c; "
            f"train_tokenizer(sys.argv[1], sys.argv[2], c({CFG!r}))")
    env = {**os.environ, "RAYON_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code, str(base / "clean"), str(tmp_path / "one")], check=True, env=env,
                   cwd=ROOT)
    assert (tmp_path / "one" / "tokenizer.json").read_bytes() == first


def test_training_sample_is_a_budgeted_bottom_k_independent_of_sharding(tmp_path):
    rows = make_rows(60, seed=3)
    cfg = config_from_params({**CFG, "sample_bytes": 5000})
    a = write_clean(tmp_path / "a", rows, n_shards=1)
    b = write_clean(tmp_path / "b", rows, n_shards=4)

    def chosen(d):
        s = choose_training_sample(d, cfg)
        return s, sorted(iter_training_texts(s))

    sa, ta = chosen(a)
    sb, tb = chosen(b)
    assert ta == tb and sa.n_bytes == sb.n_bytes  # same documents whatever the shard layout
    sizes = {r["text"]: r["size"] for r in rows}
    assert sa.n_bytes == sum(sizes[t] for t in ta)
    assert sa.n_bytes >= 5000 and sa.n_bytes - max(sizes[t] for t in ta) < 5000  # only the last doc crosses
    held = {r["text"] for r in rows if draw(cfg.seed, r["repo"], r["sample"]) < cfg.heldout_fraction}
    assert held and not held & set(ta)
    bigger = choose_training_sample(a, config_from_params({**CFG, "sample_bytes": 12000}))
    assert set(ta) < set(iter_training_texts(bigger))  # grows monotonically with the budget


def test_heldout_metrics(trained):
    _, rows, metrics = trained
    h = metrics["heldout"]
    n_held = sum(draw(CFG["seed"], r["repo"], r["sample"]) < CFG["heldout_fraction"] for r in rows)
    assert h["docs"] == n_held > 0
    assert h["roundtrip_rate"] == 1.0 and h["roundtrip_failures"] == 0
    assert 1.0 < h["bytes_per_token"] < 20
    assert 0 < h["vocab_use"] <= 1 and h["vocab_used"] <= metrics["vocab_size"]
    for lang, s in h["per_language"].items():
        assert s["roundtrip_rate"] == 1.0
        assert s["bytes_per_token"] == pytest.approx(s["bytes"] / s["tokens"], abs=1e-4)
    assert sum(s["files"] for s in h["per_language"].values()) == h["files"]
    assert metrics["train"]["docs"] + metrics["train"]["heldout_docs"] == len(rows)


def test_loads_in_transformers_offline(trained, monkeypatch):
    transformers = pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    base, rows, _ = trained
    tok = Tokenizer.from_file(str(base / "tok" / "tokenizer.json"))
    auto = transformers.AutoTokenizer.from_pretrained(str(base / "tok"))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(base / "tok" / "tokenizer.json"))
    assert auto.bos_token == EXPECTED_SPECIALS[0] and auto.eos_token == EXPECTED_SPECIALS[1]
    assert auto.pad_token_id == tok.token_to_id(auto.pad_token) and auto.pad_token_id != auto.eos_token_id
    for text in [rows[0]["text"], "".join(ODD)]:
        ids = auto(text)["input_ids"]
        assert ids == tok.encode(text).ids == fast(text)["input_ids"]
        assert auto.decode(ids, skip_special_tokens=True) == text
    for s in EXPECTED_SPECIALS[2:]:
        assert auto.convert_tokens_to_ids(s) == tok.token_to_id(s)


def test_config_errors_name_the_key():
    cases = {"vocab_size": 10, "sample_bytes": 0, "heldout_fraction": 0.9, "min_frequency": 0, "seed": "x"}
    for key, bad in cases.items():
        with pytest.raises(ParamError, match=rf"^tokenizer\.{key}:"):
            config_from_params({key: bad})
    with pytest.raises(ParamError, match=r"^tokenizer\.vocab:"):
        config_from_params({"vocab": 100})
    assert config_from_params({}).vocab_size == 32000


def test_a_frozen_tokenizer_is_kept_on_new_data_and_measured_again(trained, tmp_path):
    base, _, _ = trained
    more = write_clean(tmp_path / "clean", make_rows(60))  # the next night's corpus
    metrics = train_tokenizer(more, tmp_path / "tok", config_from_params({**CFG, "frozen": True}),
                              frozen_from=base / "tok")
    assert (tmp_path / "tok" / "tokenizer.json").read_bytes() == (base / "tok" / "tokenizer.json").read_bytes()
    assert metrics["frozen"] is True and metrics["train"] is None
    assert metrics["heldout"]["docs"] > 0 and metrics["heldout"]["roundtrip_rate"] == 1.0
    retrained = train_tokenizer(more, tmp_path / "new", config_from_params(CFG))
    assert retrained["frozen"] is False
    assert (tmp_path / "new" / "tokenizer.json").read_bytes() != (base / "tok" / "tokenizer.json").read_bytes()
