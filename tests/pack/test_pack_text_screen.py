"""Text sources pass through exact dedup and decontamination before packing (tasks/pack/text_screen.py):
the library path (tasks.pack.pack) and the stage's flow (partition jobs, reused on a rerun)."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from pack_corpus import make_rows, train_small_tokenizer, write_clean
from tasks.pack import PackedDataset, config_from_params, pack
from tasks.pack.encode import load_tokenizer
from tasks.pack.text_screen import dups_job, hash_job, rows_to_skip
from tasks.quality.benchmarks import BenchmarkSpec
from tasks.quality.config import Config as QualityConfig, DecontamConfig
from tasks.quality.decontam import build_benchmark_index

ROOT = Path(__file__).resolve().parents[2]
GSM8K = {"name": "gsm8k", "path": str(ROOT / "assets/benchmarks/gsm8k_test.json"),
         "fields": ["question", "answer"], "id_field": "idx"}
LEAK = json.loads((ROOT / "assets/benchmarks/gsm8k_test.json").read_text(encoding="utf-8").splitlines()[0])
MARK = re.compile(r"TXT([AB]\d{2})TXT")


def _doc(tag: str, words: str = "a short note on rivers and the banks they cut") -> dict:
    return {"text": f"TXT{tag}TXT {words} {tag}."}


def write_sources(base: Path) -> tuple[Path, Path]:
    """a: 6 documents, A01 twice (the second with CRLF and trailing blanks: the same normalised text);
    b: 5 documents, a copy of a's A02, a GSM8K test problem inside a tutorial, three of its own."""
    a = [_doc(f"A{i:02d}") for i in range(5)]
    a.insert(3, {"text": _doc("A01")["text"] + "  \r\n"})
    b = [_doc("B00"), a[2], {"text": "TXTB01TXT Worked example. " + LEAK["question"] + "\n" + LEAK["answer"]},
         _doc("B02"), _doc("B03")]
    paths = []
    for name, rows in (("a", a), ("b", b)):
        p = base / f"{name}.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        paths.append(p)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("screen")
    clean = write_clean(base / "clean", make_rows(12, seed=3))
    tok = train_small_tokenizer(clean, base / "tok")
    a, b = write_sources(base)
    qcfg = QualityConfig(decontam=replace(DecontamConfig(), benchmarks=(BenchmarkSpec(
        GSM8K["name"], GSM8K["path"], tuple(GSM8K["fields"]), GSM8K["id_field"]),)))
    index = str(build_benchmark_index(qcfg, base / "index"))
    return base, clean, tok, a, b, index


def _pack_params(a: Path, b: Path, **over) -> dict:
    return {"seq_len": 32, "val_ratio": 0.0, "fim_rate": 0.0, "mixture": {"code": 1, "text": 1},
            "cooldown": {"enabled": False}, "workers": 1,
            "text_sources": [{"path": str(a), "name": "a"}, {"path": str(b), "name": "b"}], **over}


def _text_marks(tok: Path, split_dir: Path) -> set[str]:
    ds = PackedDataset.open(split_dir)
    ids = np.concatenate([ds[i] for i in range(len(ds))])
    return set(MARK.findall(load_tokenizer(str(tok)).decode(ids.tolist(), skip_special_tokens=False)))


def test_duplicates_and_benchmark_leaks_never_reach_the_tokens(setup, tmp_path):
    base, clean, tok, a, b, index = setup
    m = pack(clean, tok, tmp_path / "p", config_from_params(_pack_params(a, b)), decontam_index=index)
    assert m["text_screen"] == {"dedup": True, "decontaminate": True, "sources": {
        "a": {"docs": 6, "contaminated": 0, "duplicates": 1},       # its second A01
        "b": {"docs": 5, "contaminated": 1, "duplicates": 1}}}      # the copy of a's A02; the GSM8K problem
    assert m["input"]["skipped"] == {"contaminated": 1, "duplicate": 2}
    marks = _text_marks(tok, tmp_path / "p" / "train")
    assert marks == {"A00", "A01", "A02", "A03", "A04", "B00", "B02", "B03"}  # first copies kept, B01 gone


def test_screen_off_keeps_every_document(setup, tmp_path):
    base, clean, tok, a, b, index = setup
    cfg = config_from_params(_pack_params(a, b, text_screen={"dedup": False, "decontaminate": False}))
    m = pack(clean, tok, tmp_path / "p", cfg, decontam_index=index)
    assert "text_screen" not in m and not m["input"]["skipped"]
    assert "B01" in _text_marks(tok, tmp_path / "p" / "train")
    with pytest.raises(Exception, match="text_screen.nope"):
        config_from_params(_pack_params(a, b, text_screen={"nope": True}))


def test_reducers_split_by_route_give_the_same_drops(setup, tmp_path):
    """Many reducers or one: the same (source, row) drops, the first copy kept."""
    base, clean, tok, a, b, index = setup
    cfg = config_from_params(_pack_params(a, b))
    from tasks.pack.encode import plan_units
    from tasks.common.shuffle import route_ranges

    units = [u for u in plan_units([], cfg) if u["kind"] == "text"]
    hashes = [str(tmp_path / f"h{i}.parquet") for i in range(len(units))]
    for u, h in zip(units, hashes):
        hash_job((u["path"],), {"hashes": h}, u, cfg, None, 1, 1 << 20)
    drops = {}
    for n in (1, 7):
        paths = [str(tmp_path / f"d{n}-{j}.parquet") for j in range(n)]
        for (lo, hi), p in zip(route_ranges(n), paths):
            dups_job(tuple(hashes), {"drops": p}, lo, hi)
        drops[n] = [rows_to_skip(hashes[pos], paths, pos)["duplicate"].tolist() for pos in range(len(units))]
    assert drops[1] == drops[7] == [[3], [1]]


def test_the_stage_screens_text_in_jobs_and_reuses_them(setup, tmp_path, prefect_api_url, monkeypatch):
    base, clean, tok, a, b, index = setup
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "models" / "tokenizer").mkdir(parents=True)
    import shutil

    shutil.copytree(clean, root / "data" / "clean")
    shutil.copy(tok, root / "models" / "tokenizer" / "tokenizer.json")
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"pack": {"cmd": "python -m flows.pack", "deps": []}}}))
    params = {"runtime": {"partition_cache": str(root / "cache"), "task_runner": "thread", "workers": 1},
              "pack": _pack_params(a, b),
              "quality": {"decontam": {"benchmarks": [GSM8K], "cache_dir": str(base / "index")}}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(root)
    from flows.pack import pack_flow

    first = pack_flow(params_path="params.yaml")
    assert first["text_screen"]["sources"] == {"a": {"docs": 6, "contaminated": 0, "duplicates": 1},
                                               "b": {"docs": 5, "contaminated": 1, "duplicates": 1}}
    timings = json.loads((root / "reports" / "timings" / "pack.json").read_text())
    assert timings["text_hash_computed"] == 2 and timings["text_dups_computed"] >= 1
    again = pack_flow(params_path="params.yaml")
    timings = json.loads((root / "reports" / "timings" / "pack.json").read_text())
    assert timings["text_hash_computed"] == 0 and timings["text_dups_computed"] == 0 and timings["computed"] == 0
    assert again["text_screen"] == first["text_screen"]
    assert "B01" not in _text_marks(tok, root / "data" / "packed" / "train")
