"""The labelled secrets benchmark: the committed file is what its generator writes, and the scanner
meets the per-type targets on it (precision >= 0.9, recall >= 0.95), touching no look-alike."""
from __future__ import annotations

from collections import Counter

from benchmarks.secrets_corpus import OUT, build, dumps
from tasks.governance.evaluation import evaluate, load_benchmark
from tasks.governance.findings import TYPES


def test_committed_benchmark_is_current():
    assert OUT.read_text(encoding="utf-8") == dumps(build()), "run `python -m benchmarks.secrets_corpus`"


def test_benchmark_covers_every_type_and_labels_are_sane():
    records = load_benchmark()
    per_type = Counter(s["type"] for r in records for s in r["secrets"])
    assert set(per_type) == set(TYPES) and min(per_type.values()) >= 15
    assert sum(len(r["keep"]) for r in records) >= 30 and len({r["lang"] for r in records}) >= 10
    for r in records:
        spans = sorted((s["start"], s["end"]) for s in r["secrets"] + r["keep"])
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), r["id"]


def test_precision_and_recall_per_type():
    result = evaluate(load_benchmark())
    for t, v in result["per_type"].items():
        assert v["precision"] >= 0.9 and v["recall"] >= 0.95, (t, v, result["misses"], result["false_positives"])
    assert result["look_alikes_hit"] == []


def test_evaluation_counts_partial_redaction_as_a_miss():
    records = [{"id": "x", "lang": "Python", "path": "x.py", "text": "k = 'AAAABBBBCCCC'\n",
                "secrets": [{"type": "KEY", "kind": "k", "start": 5, "end": 17}], "keep": []}]
    from tasks.governance.findings import Finding

    half = evaluate(records, lambda text, lang, path: [Finding(5, 11, "KEY", "t")])
    assert half["per_type"]["KEY"]["recall"] == 0.0 and half["per_type"]["KEY"]["precision"] == 1.0
    wrong = evaluate(records, lambda text, lang, path: [Finding(5, 17, "PASSWORD", "t")])
    assert wrong["per_type"]["KEY"]["recall"] == 0.0 and wrong["per_type"]["PASSWORD"]["precision"] == 0.0
