"""Files and bytes per language of repo-level samples (the `langs` and `contents` list columns).

Each stage that writes samples counts its output's language mix per partition while it writes, so the
report and the gates read the mix from metrics instead of re-reading every stage's contents.
"""
from __future__ import annotations

from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc

UNKNOWN = "unknown"


def language_mix(table: pa.Table | pa.RecordBatch) -> dict[str, dict[str, int]]:
    """{lang: {files, bytes}} over the files inside the samples of `table` (UTF-8 bytes of contents)."""
    if table.num_rows == 0:
        return {}
    langs = pc.list_flatten(table.column("langs"))
    contents = pc.list_flatten(table.column("contents"))
    if len(langs) != len(contents):
        raise ValueError("samples: langs and contents differ in length")
    flat = pa.table({"lang": pc.fill_null(langs.cast(pa.string()), UNKNOWN),
                     "size": pc.fill_null(pc.binary_length(contents), 0).cast(pa.int64())})
    grouped = flat.group_by("lang").aggregate([("size", "sum"), ("size", "count")])
    return {row["lang"]: {"files": int(row["size_count"]), "bytes": int(row["size_sum"])}
            for row in grouped.to_pylist()}


def merge_mix(parts: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Sum several mixes; languages sorted."""
    total: dict[str, dict[str, int]] = {}
    for part in parts:
        add_mix(total, part)
    return dict(sorted(total.items()))


def add_mix(into: dict[str, Any], part: dict[str, dict[str, int]]) -> None:
    """Add `part` into the mix `into` in place."""
    for lang, v in part.items():
        slot = into.setdefault(lang, {"files": 0, "bytes": 0})
        slot["files"] += int(v["files"])
        slot["bytes"] += int(v["bytes"])
