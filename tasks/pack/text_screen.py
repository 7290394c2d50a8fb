"""Natural-language text sources pass through exact dedup and decontamination before they are packed.

The code reaches pack through the dedup and quality stages; `pack.text_sources` do not, and web text is
where duplicates and benchmark leaks (GSM8K, MATH, HumanEval in a tutorial) are most likely. Two
partitioned steps, written as the dedup stage's exact step is (a shuffle through files, never a
corpus-wide dict in one process):

- `pack-text-hash`, a job per text source: each document's digest of its normalised text
  (`tasks.dedup.exact.digest`, the rule the code's exact dedup uses) and its contamination verdict (the
  quality stage's benchmark index and rule, `quality.decontam`), written sorted by route;
- `pack-text-dups`, reducers over route ranges: among the documents with one digest the first in
  `pack.text_sources` order (then by row) is kept, the others are drops (source position, row).

The encode job of a text source then skips its contaminated rows (`contaminated`) and its drops
(`duplicate`); both are counted in the pack metrics (`skipped`, and `text_screen` per source).
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.common.shuffle import read_range_by_file, reducers_for, route_of, route_ranges, write_sorted
from tasks.pack.config import Config
from tasks.pack.sources import read_text_source

HASH_SCHEMA = pa.schema([("route", pa.int64()), ("digest", pa.binary(16)), ("row", pa.int64()),
                         ("contaminated", pa.bool_())])
DROP_SCHEMA = pa.schema([("unit", pa.int64()), ("row", pa.int64())])
ROW_BYTES = 40  # a hash row as a reducer holds it (route, digest, row, unit)
REDUCER_BYTES = 64 << 20  # a dups reducer's share of those rows


def dup_ranges(hash_stats: Sequence[dict[str, Any]]) -> list[tuple[int, int | None]]:
    """The route ranges of the dups reducers, from the hash jobs' document counts."""
    return route_ranges(reducers_for(sum(s["docs"] for s in hash_stats), ROW_BYTES, REDUCER_BYTES, least=1))


def attach(text_units: Sequence[dict[str, Any]], hashes: Sequence[str], drops: Sequence[str]) -> None:
    """Give each text unit its `screen`: its hash file, every reducer's drops, its position among the sources."""
    for pos, u in enumerate(text_units):
        u["screen"] = {"hashes": hashes[pos], "drops": list(drops), "position": pos}


def hash_job(inputs: tuple[str, ...], outs: dict[str, str], unit: dict[str, Any], cfg: Config,
             index_path: str | None, min_gram_hits: int, batch_bytes: int) -> dict[str, Any]:
    """Job body: one text source -> its documents' (route, digest, row, contaminated), sorted by route.
    `index_path`: the quality stage's benchmark index (None: decontamination off)."""
    from tasks.dedup.exact import digest

    index = None
    if index_path:
        from tasks.quality.decontam import load_index

        index = load_index(index_path)
    tables, docs, contaminated = [], 0, 0
    for batch in read_text_source(unit["source"], cfg.batch_size):
        live = [d for d in batch if not d.skip]
        if not live:
            continue
        hits = index.scan([d.text for d in live], batch_bytes) if index is not None else [None] * len(live)
        flags = [h is not None and h.contaminated(min_gram_hits) for h in hits]
        digests = [digest(d.text) for d in live]
        keys = np.frombuffer(b"".join(dg[:8] for dg in digests), dtype=">u8")
        tables.append(pa.table({"route": pa.array(route_of(keys), pa.int64()),
                                "digest": pa.array(digests, pa.binary(16)),
                                "row": pa.array([int(d.sample) for d in live], pa.int64()),
                                "contaminated": pa.array(flags, pa.bool_())}, schema=HASH_SCHEMA))
        docs += len(live)
        contaminated += sum(flags)
    table = pa.concat_tables(tables) if tables else HASH_SCHEMA.empty_table()
    write_sorted(outs["hashes"], table, ["route", "row"], HASH_SCHEMA)
    return {"docs": docs, "contaminated": contaminated}


def dups_job(inputs: tuple[str, ...], outs: dict[str, str], lo: int, hi: int | None) -> dict[str, Any]:
    """Job body: the documents of one route range (inputs: every text source's hash file, in
    pack.text_sources order) -> the (unit, row) of each that repeats an earlier document's digest."""
    t = read_range_by_file(inputs, "route", lo, hi, ["digest", "row"], tag="unit")
    drops = DROP_SCHEMA.empty_table()
    if t.num_rows:
        t = t.sort_by([("digest", "ascending"), ("unit", "ascending"), ("row", "ascending")])
        col = t.column("digest").combine_chunks()
        d = np.frombuffer(col.buffers()[1], dtype="S16", count=len(col), offset=col.offset * 16)
        repeat = np.concatenate([[False], d[1:] == d[:-1]])
        drops = pa.table({"unit": t.column("unit"), "row": t.column("row")}).filter(pa.array(repeat))
    write_sorted(outs["drops"], drops, ["unit", "row"], DROP_SCHEMA)
    return {"docs": t.num_rows, "duplicates": drops.num_rows}


def rows_to_skip(hash_path: str | os.PathLike, drop_paths: Sequence[str | os.PathLike], position: int
                 ) -> dict[str, np.ndarray]:
    """A text source's rows to skip, sorted: `contaminated` (its own hash file) and `duplicate` (the
    reducers' drops of its position among the text sources)."""
    cont = pq.read_table(hash_path, columns=["row"], filters=[("contaminated", "=", True)]).column("row")
    dup = [pq.read_table(p, columns=["row"], filters=[("unit", "=", position)]).column("row") for p in drop_paths]
    dup_rows = np.concatenate([c.to_numpy() for c in dup]) if dup else np.zeros(0, np.int64)
    return {"contaminated": np.sort(cont.to_numpy()).astype(np.int64),
            "duplicate": np.setdiff1d(dup_rows, cont.to_numpy()).astype(np.int64)}


def skip_reason(row: int, skip: dict[str, np.ndarray] | None) -> str | None:
    """Why a text document is not packed (None: it is)."""
    if not skip:
        return None
    for reason, rows in skip.items():
        i = np.searchsorted(rows, row)
        if i < rows.size and rows[i] == row:
            return reason
    return None


def summary(cfg: Config, text_units: Sequence[dict[str, Any]], hash_stats: Sequence[dict[str, Any]]
            ) -> dict[str, Any]:
    """The pack metrics' `text_screen` before encoding (duplicates are counted by the encode jobs)."""
    sources = {u["source"].name: {"docs": s["docs"], "contaminated": s["contaminated"], "duplicates": None}
               for u, s in zip(text_units, hash_stats)}
    return {"dedup": cfg.text_screen.dedup, "decontaminate": cfg.text_screen.decontaminate, "sources": sources}


def count_duplicates(screened: dict[str, Any], units: Sequence[dict[str, Any]],
                     encode_stats: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`screened` with each text source's duplicates as its encode job skipped them."""
    if screened.get("dedup"):
        for u, s in zip(units, encode_stats):
            if u.get("screen"):
                screened["sources"][u["source"].name]["duplicates"] = s["skipped"].get("duplicate", 0)
    return screened


def screen_locally(units: list[dict[str, Any]], cfg: Config, work: str | os.PathLike,
                   index_path: str | None = None, min_gram_hits: int = 1, batch_bytes: int = 4_000_000
                   ) -> dict[str, Any]:
    """The two steps in this process, into `work` (tasks.pack.pipeline.pack, the library path without the
    job cache); sets each text unit's `screen` as the flow does. Returns the `text_screen` summary."""
    from pathlib import Path

    text = [u for u in units if u["kind"] == "text"]
    if not text or not (cfg.text_screen.dedup or (cfg.text_screen.decontaminate and index_path)):
        return {}
    index_path = index_path if cfg.text_screen.decontaminate else None
    work = Path(work)
    hashes = [str(work / f"text-{i:05d}.hashes.parquet") for i in range(len(text))]
    stats = [hash_job((u["path"],), {"hashes": h}, u, cfg, index_path, min_gram_hits, batch_bytes)
             for u, h in zip(text, hashes)]
    drops: list[str] = []
    if cfg.text_screen.dedup:
        ranges = dup_ranges(stats)
        drops = [str(work / f"text-dups-{j:05d}.parquet") for j in range(len(ranges))]
        for (lo, hi), path in zip(ranges, drops):
            dups_job(tuple(hashes), {"drops": path}, lo, hi)
    attach(text, hashes, drops)
    return summary(cfg, text, stats)
