"""The whole pack stage on a tiny corpus: split, workers, mixture, cool-down, text sources, FIM."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from tasks.pack import PackedDataset, config_from_params, pack
from tasks.pack import fim
from tasks.pack.encode import load_tokenizer
from tasks.tokenizer.special import special_ids
from pack_corpus import make_rows, train_small_tokenizer, write_clean, write_text_jsonl

MARK = re.compile(r"MK([A-Z]{2})(\d{4})KM")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    base = tmp_path_factory.mktemp("pack")
    rows = make_rows(90, seed=1)
    clean = write_clean(base / "clean", rows)
    tok_path = train_small_tokenizer(clean, base / "tok")
    return base, rows, clean, tok_path


def _stream(split_dir: Path) -> np.ndarray:
    ds = PackedDataset.open(split_dir)
    return np.concatenate([ds[i] for i in range(len(ds))]) if len(ds) else np.zeros(0, np.int64)


def _decode(tok_path, ids) -> str:
    return load_tokenizer(str(tok_path)).decode(ids.tolist(), skip_special_tokens=False)


def _docs(tok_path, ids: np.ndarray) -> list[list[int]]:
    """Complete documents of a stream (between BOS marks; the first and last may be cut)."""
    sp = special_ids(load_tokenizer(str(tok_path)))
    starts = np.flatnonzero(ids == sp.bos)
    return [ids[a:b].tolist() for a, b in zip(starts[:-1], starts[1:])]


def test_split_by_repository_never_overlaps(corpus, tmp_path):
    base, rows, _, tok = corpus
    code_rows = [r for r in rows if r["langs"][0] != "Markdown"]
    clean = write_clean(tmp_path / "clean", code_rows)
    cfg = config_from_params({"seq_len": 32, "val_ratio": 0.3, "fim_rate": 0.0, "seed": 5,
                              "mixture": {"code": 1}, "cooldown": {"enabled": False}})
    m = pack(clean, tok, tmp_path / "packed", cfg)
    found = {}
    for split in ("train", "val"):
        found[split] = {m.group(2) for m in MARK.finditer(_decode(tok, _stream(tmp_path / "packed" / split)))}
    assert found["train"] and found["val"]
    assert not found["train"] & found["val"]
    # mixture of one source = every document once; only each split's last partial sequence is cut
    assert m["splits"]["train"]["documents"] + m["splits"]["val"]["documents"] == len(code_rows)
    assert len(found["train"] | found["val"]) >= len({r["repo"] for r in code_rows}) - 2
    assert not (tmp_path / "packed" / "cooldown").exists()


def test_shards_identical_for_one_and_two_workers(corpus, tmp_path):
    base, rows, clean, tok = corpus
    cfg = config_from_params({"seq_len": 16, "val_ratio": 0.2, "fim_spm_rate": 0.5, "shard_tokens": 200,
                              "mixture": {"code": 0.7, "code_text": 0.3}})
    m1 = pack(clean, tok, tmp_path / "w1", cfg, workers=1)
    m2 = pack(clean, tok, tmp_path / "w2", cfg, workers=2)
    files1 = sorted(p.relative_to(tmp_path / "w1") for p in (tmp_path / "w1").rglob("*") if p.is_file())
    files2 = sorted(p.relative_to(tmp_path / "w2") for p in (tmp_path / "w2").rglob("*") if p.is_file())
    assert files1 == files2 and len([f for f in files1 if f.suffix == ".bin"]) > 3
    for f in files1:
        assert (tmp_path / "w1" / f).read_bytes() == (tmp_path / "w2" / f).read_bytes(), f
    assert m1["splits"] == m2["splits"] and m2["workers"] == 2


def test_packed_documents_restore_and_fim_share(corpus, tmp_path):
    base, rows, clean, tok = corpus
    cfg = config_from_params({"seq_len": 64, "val_ratio": 0.0, "fim_rate": 0.5, "fim_spm_rate": 0.5,
                              "mixture": {"code": 2, "code_text": 1}})
    m = pack(clean, tok, tmp_path / "p", cfg)
    header = json.loads((tmp_path / "p" / "train" / "header.json").read_text(encoding="utf-8"))
    assert header["dtype"] == "uint16" and header["seq_len"] == 64 and header["add_bos"] is True
    texts = {r["text"] for r in rows}
    t = load_tokenizer(str(tok))
    sp = special_ids(t)
    decode = lambda ids: t.decode(ids, skip_special_tokens=False)  # noqa: E731
    docs = _docs(tok, _stream(tmp_path / "p" / "train"))
    assert len(docs) > 50
    modes = {"psm": 0, "spm": 0, "plain": 0}
    for ids in docs:
        assert fim.restore(ids, decode, sp) in texts
        if ids[1] == sp.fim_begin:
            modes["spm" if ids[2] == sp.fim_hole else "psm"] += 1
        else:
            modes["plain"] += 1
    assert modes["psm"] and modes["spm"] and modes["plain"]
    inp = m["input"]["train"]["fim"]
    n = sum(inp.values())
    assert n == len(rows)
    k = inp["psm"] + inp["spm"]
    assert abs(k - n * 0.5) <= 4 * math.sqrt(n * 0.25)
    fim_out = m["splits"]["train"]["fim"]
    assert fim_out["psm"] + fim_out["spm"] + fim_out["plain"] == header["documents"]
    assert fim_out == header["fim"]


def test_mixture_with_text_source_hits_requested_shares(corpus, tmp_path):
    base, rows, clean, tok = corpus
    text_path = write_text_jsonl(tmp_path / "wiki.jsonl", 40)
    cfg = config_from_params({"seq_len": 32, "val_ratio": 0.0, "mixture": {"code": 0.5, "code_text": 0.2, "text": 0.3},
                              "text_sources": [{"path": str(text_path), "field": "text", "name": "wiki"}],
                              "cooldown": {"mixture": {"code": 0, "code_text": 1, "text": 1}, "fraction": 0.5}})
    m = pack(clean, tok, tmp_path / "p", cfg)
    tr = m["splits"]["train"]
    total = sum(tr["tokens_by_source"].values())
    # closest achievable: within the size of a couple of documents of each source
    biggest = max(len(load_tokenizer(str(tok)).encode(r["text"]).ids) for r in rows) + 8
    for s, want in {"code": 0.5, "code_text": 0.2, "text": 0.3}.items():
        assert tr["mixture"]["requested"][s] == pytest.approx(want)
        assert abs(tr["mixture"]["achieved"][s] - want) <= 2 * biggest / total, s
    # text was scarce, so it was repeated: more copies than documents
    assert tr["mixture"]["multiplier"]["text"] > 1
    assert tr["documents_by_source"]["text"] > m["input"]["train"]["docs"]["text"] == 40
    decoded = _decode(tok, _stream(tmp_path / "p" / "train"))
    assert len(re.findall(r"TXT\d{4}TXT", decoded)) > 40
    cd = m["splits"]["cooldown"]
    assert cd["tokens_by_source"]["code"] == 0 and cd["tokens_by_source"]["text"] > 0
    assert abs(cd["tokens"] - 0.5 * tr["tokens"]) <= cd["tokens"] * 0.1 + 2 * biggest


def test_cooldown_restricted_to_configured_languages_and_missing_sources(corpus, tmp_path):
    base, rows, clean, tok = corpus
    cfg = config_from_params({"seq_len": 32, "val_ratio": 0.0, "mixture": {"code": 0.9, "text": 0.1},
                              "cooldown": {"mixture": {"code": 1, "code_text": 1}, "languages": ["python"],
                                           "fraction": 0.3}})
    m = pack(clean, tok, tmp_path / "p", cfg)
    tr = m["splits"]["train"]
    assert tr["mixture"]["missing_sources"] == ["text"]
    assert tr["mixture"]["effective"]["code"] == 1.0 and tr["tokens_by_source"]["code_text"] == 0
    langs = {m_.group(1) for m_ in MARK.finditer(_decode(tok, _stream(tmp_path / "p" / "cooldown")))}
    assert "PY" in langs and "MA" in langs and "GO" not in langs


def test_bad_text_rows_are_skipped_with_reasons(corpus, tmp_path):
    base, rows, clean, tok = corpus
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "good one"}\nnot json\n{"body": "x"}\n{"text": 5}\n\n{"text": ""}\n'
                 '{"text": "lone \\ud800 surrogate"}\n', encoding="utf-8")
    cfg = config_from_params({"seq_len": 8, "text_sources": [str(p)], "mixture": {"code": 1, "text": 1}})
    m = pack(clean, tok, tmp_path / "p", cfg)
    assert m["input"]["skipped"] == {"blank_line": 1, "empty_text": 1, "field_not_string": 1, "invalid_json": 1,
                                     "invalid_unicode": 1, "missing_field": 1}
    assert m["input"]["train"]["docs"]["text"] + m["input"]["val"]["docs"]["text"] == 1


def test_special_strings_in_text_do_not_become_control_tokens(corpus, tmp_path):
    base, rows, clean, tok = corpus
    cfg = config_from_params({"seq_len": 16, "fim_rate": 0.0, "val_ratio": 0.0, "add_bos": False,
                              "mixture": {"code": 1, "code_text": 1}, "cooldown": {"enabled": False}})
    m = pack(clean, tok, tmp_path / "p", cfg)
    assert any("<|EOT|>" in r["text"] for r in rows)
    ids = _stream(tmp_path / "p" / "train")
    sp = special_ids(load_tokenizer(str(tok)))
    for special in (sp.eot, sp.fim_begin, sp.fim_hole, sp.fim_end, sp.bos, sp.pad):
        assert not (ids == special).any()
    assert (ids == sp.eos).sum() >= m["splits"]["train"]["documents"] - 1


def test_config_errors_name_the_key(tmp_path):
    from tasks.common.params import ParamError
    cases = [({"seq_len": 1}, "pack.seq_len"), ({"fim_rate": 1.5}, "pack.fim_rate"),
             ({"mixture": {"code": -1}}, "pack.mixture.code"), ({"mixture": {"py": 1}}, "pack.mixture.py"),
             ({"mixture": {"code": 0}}, "pack.mixture"), ({"text_sources": [str(tmp_path / "no.jsonl")]},
                                                          "pack.text_sources[0].path"),
             ({"cooldown": {"fraction": 0}}, "pack.cooldown.fraction"), ({"workers": 0}, "pack.workers"),
             ({"cooldown": {"langs": []}}, "pack.cooldown.langs"), ({"val_ratio": 0.9}, "pack.val_ratio")]
    for section, key in cases:
        with pytest.raises(ParamError, match="^" + re.escape(key) + ":"):
            config_from_params(section)


def test_append_keeps_earlier_shards_and_adds_only_new_documents(corpus, tmp_path):
    """A nightly pack with pack.append: train/val keep every earlier shard byte for byte and gain shards
    made of the documents not packed before; a changed setting rebuilds instead."""
    base, rows, _, tok = corpus
    code = [r for r in rows if r["langs"][0] != "Markdown"]
    night1 = write_clean(tmp_path / "c1", [r for r in code if int(r["repo"][-4:]) < 45])
    night2 = write_clean(tmp_path / "c2", code)  # the same repositories plus new ones
    cfg = config_from_params({"seq_len": 32, "val_ratio": 0.3, "fim_rate": 0.0, "mixture": {"code": 1},
                              "cooldown": {"enabled": False}, "append": True})
    out = tmp_path / "packed"
    first = pack(night1, tok, out, cfg)
    assert first["append"]["result"] == "nothing packed before: first build"
    before = {split: {p.name: p.read_bytes() for p in (out / split).glob("part-*.bin")} for split in ("train", "val")}
    seen = {split: {m.group(2) for m in MARK.finditer(_decode(tok, _stream(out / split)))} for split in ("train", "val")}
    second = pack(night2, tok, out, cfg)
    assert second["append"]["result"] == "appended"
    new_repos = {r["repo"] for r in code} - {r["repo"] for r in code if int(r["repo"][-4:]) < 45}
    assert second["append"]["new_documents"] == sum(1 for r in code if r["repo"] in new_repos)
    for split in ("train", "val"):
        header = json.loads((out / split / "header.json").read_text())
        for name, data in before[split].items():
            assert (out / split / name).read_bytes() == data  # the earlier shards, untouched
        added = [s for s in header["shards"] if s["file"] not in before[split]]
        assert header["appends"][-1]["shards"] == [s["file"] for s in added]
        assert added or split == "val"
        ds = PackedDataset.open(out / split)
        assert len(ds) == sum(s["n_sequences"] for s in header["shards"])
        # the appended sequences hold only the new documents
        appended = np.concatenate([np.fromfile(out / split / s["file"], dtype=np.uint16) for s in added]) \
            if added else np.zeros(0, np.uint16)
        markers = {m.group(2) for m in MARK.finditer(_decode(tok, appended.astype(np.int64)))}
        assert markers.isdisjoint(seen[split]) and (markers or split == "val")
    rebuilt = pack(night2, tok, out, config_from_params({"seq_len": 64, "val_ratio": 0.3, "fim_rate": 0.0,
                                                         "mixture": {"code": 1}, "cooldown": {"enabled": False},
                                                         "append": True}))
    assert rebuilt["append"]["result"].startswith("train: seq_len changed")
