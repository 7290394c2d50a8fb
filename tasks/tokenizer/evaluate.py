"""Tokenizer quality on held-out samples: bytes per token and round-trip per language, vocab use.

Per file (a sample's `contents[i]` in language `langs[i]`), so each language is measured on its own
text. Special-token strings inside the text are encoded as plain text (`encode_special_tokens`), as
`pack` does, so a file that mentions `<|EOT|>` still round-trips.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from tasks.tokenizer.sampling import iter_chosen_rows

UNKNOWN_LANG = "unknown"
_BATCH_FILES = 256


def _files(row: dict[str, Any]) -> list[tuple[str, str]]:
    langs, contents = row.get("langs"), row.get("contents")
    if langs is not None and contents is not None:
        return [(lang or UNKNOWN_LANG, c) for lang, c in zip(langs, contents) if c]
    text = row.get("text")
    return [(UNKNOWN_LANG, text)] if text else []


def evaluate_rows(rows: dict[str, np.ndarray], tokenizer_path: str) -> dict[str, Any]:
    """Stats of the chosen held-out samples ({shard path: row indices}, tasks.tokenizer.sampling):
    {"langs": {lang: {files, bytes, tokens, roundtrip_ok}}, "docs": n, "ids_seen": sorted ids}."""
    tok = Tokenizer.from_file(tokenizer_path)
    tok.encode_special_tokens = True
    stats: dict[str, dict[str, int]] = defaultdict(lambda: {"files": 0, "bytes": 0, "tokens": 0, "roundtrip_ok": 0})
    seen = np.zeros(tok.get_vocab_size(), dtype=bool)
    docs = 0
    pending: list[tuple[str, str]] = []

    def flush() -> None:
        if not pending:
            return
        encs = tok.encode_batch_fast([t for _, t in pending], add_special_tokens=False)
        ids = [e.ids for e in encs]
        decoded = tok.decode_batch(ids, skip_special_tokens=False)
        for (lang, text), ids_i, back in zip(pending, ids, decoded):
            s = stats[lang]
            s["files"] += 1
            s["bytes"] += len(text.encode("utf-8"))
            s["tokens"] += len(ids_i)
            s["roundtrip_ok"] += int(back == text)
            if ids_i:
                seen[np.asarray(ids_i, dtype=np.int64)] = True
        pending.clear()

    for row in iter_chosen_rows(rows, ["text", "langs", "contents"]):
        docs += 1
        pending.extend(_files(row))
        if len(pending) >= _BATCH_FILES:
            flush()
    flush()
    return {"docs": docs, "langs": {k: dict(v) for k, v in sorted(stats.items())},
            "ids_seen": np.flatnonzero(seen).tolist()}


def aggregate(shard_stats: list[dict[str, Any]], vocab_size: int) -> dict[str, Any]:
    """Metrics of the held-out evaluation: per language bytes/token and round-trip rate, overall
    bytes/token, and the share of vocabulary ids used on held-out text."""
    langs: dict[str, dict[str, int]] = defaultdict(lambda: {"files": 0, "bytes": 0, "tokens": 0, "roundtrip_ok": 0})
    seen: set[int] = set()
    docs = 0
    for st in shard_stats:
        docs += st["docs"]
        seen.update(st["ids_seen"])
        for lang, s in st["langs"].items():
            for k, v in s.items():
                langs[lang][k] += v
    per_lang = {}
    for lang in sorted(langs):
        s = langs[lang]
        per_lang[lang] = {**s, "bytes_per_token": round(s["bytes"] / s["tokens"], 4) if s["tokens"] else None,
                          "roundtrip_rate": round(s["roundtrip_ok"] / s["files"], 6) if s["files"] else None}
    tot_b = sum(s["bytes"] for s in langs.values())
    tot_t = sum(s["tokens"] for s in langs.values())
    tot_f = sum(s["files"] for s in langs.values())
    tot_ok = sum(s["roundtrip_ok"] for s in langs.values())
    return {
        "heldout": {
            "docs": docs, "files": tot_f, "bytes": tot_b, "tokens": tot_t,
            "bytes_per_token": round(tot_b / tot_t, 4) if tot_t else None,
            "roundtrip_rate": round(tot_ok / tot_f, 6) if tot_f else None,
            "roundtrip_failures": tot_f - tot_ok,
            "vocab_used": len(seen),
            "vocab_use": round(len(seen) / vocab_size, 6) if vocab_size else None,
            "per_language": per_lang,
        }
    }
