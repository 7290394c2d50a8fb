"""Precision and recall of `scan` per type on a labelled benchmark (assets/governance/secrets_benchmark.jsonl).

Scoring, per type: a planted secret counts as found only when findings of its type cover ALL of its
characters (half a redacted key is a leaked key); a finding is correct when it overlaps a planted
secret of its type, and a false positive otherwise (anything flagged outside the labels, look-alikes
included). Look-alikes touched by any finding are listed separately. Reports name files, kinds,
detectors and line numbers, never a value.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable

from tasks.governance.findings import TYPES, Finding
from tasks.governance.scan import scan

DEFAULT_BENCHMARK = Path(__file__).resolve().parent.parent.parent / "assets" / "governance" / "secrets_benchmark.jsonl"


def load_benchmark(path: str | Path = DEFAULT_BENCHMARK) -> list[dict[str, Any]]:
    """The labelled records, each checked: spans inside the text, known types."""
    records = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        for label in rec["secrets"] + rec["keep"]:
            if not 0 <= label["start"] < label["end"] <= len(rec["text"]):
                raise ValueError(f"{path}:{n}: label {label['kind']} of {rec['id']} lies outside its text")
        for label in rec["secrets"]:
            if label["type"] not in TYPES:
                raise ValueError(f"{path}:{n}: unknown type {label['type']!r} in {rec['id']}")
        records.append(rec)
    return records


def _covered(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    pos = start
    for s, e in sorted(spans):
        if s <= pos < e:
            pos = e
        if pos >= end:
            return True
    return pos >= end


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def evaluate(records: Iterable[dict[str, Any]],
             scanner: Callable[[str, str | None, str | None], list[Finding]] | None = None) -> dict[str, Any]:
    """Per-type precision/recall, with the misses and false positives located (file, line, kind/detector)."""
    scanner = scanner or (lambda text, lang, path: scan(text, lang, path))
    gold_n: dict[str, int] = defaultdict(int)
    found_n: dict[str, int] = defaultdict(int)
    pred_ok: dict[str, int] = defaultdict(int)
    pred_bad: dict[str, int] = defaultdict(int)
    recall_by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses, false_positives, keep_hits = [], [], []
    for rec in records:
        text = rec["text"]
        findings = scanner(text, rec.get("lang"), rec.get("path"))
        for g in rec["secrets"]:
            gold_n[g["type"]] += 1
            spans = [(f.start, f.end) for f in findings if f.type == g["type"]]
            ok = _covered(g["start"], g["end"], spans)
            found_n[g["type"]] += ok
            recall_by_kind[g["kind"]][0] += ok
            recall_by_kind[g["kind"]][1] += 1
            if not ok:
                misses.append({"file": rec["id"], "line": _line(text, g["start"]), "type": g["type"], "kind": g["kind"]})
        for f in findings:
            if any(g["type"] == f.type and f.start < g["end"] and g["start"] < f.end for g in rec["secrets"]):
                pred_ok[f.type] += 1
            else:
                pred_bad[f.type] += 1
                false_positives.append({"file": rec["id"], "line": _line(text, f.start), "type": f.type,
                                        "detector": f.detector})
        for k in rec["keep"]:
            if any(f.start < k["end"] and k["start"] < f.end for f in findings):
                keep_hits.append({"file": rec["id"], "line": _line(text, k["start"]), "kind": k["kind"]})
    per_type = {}
    for t in TYPES:
        predicted = pred_ok[t] + pred_bad[t]
        per_type[t] = {"planted": gold_n[t], "found": found_n[t], "predicted": predicted,
                       "precision": pred_ok[t] / predicted if predicted else None,
                       "recall": found_n[t] / gold_n[t] if gold_n[t] else None}
    return {"per_type": per_type, "misses": misses, "false_positives": false_positives, "look_alikes_hit": keep_hits,
            "recall_by_kind": {k: v[0] / v[1] for k, v in sorted(recall_by_kind.items())}}
