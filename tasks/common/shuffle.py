"""A file-based shuffle for the global steps (LSH buckets, pair routing, exact-duplicate groups).

Every map job writes ONE file sorted by a routing column, in small row groups. A reduce job reads,
from every map file, only the rows whose routing value falls in its range: Parquet's row-group
statistics skip the rest, so a reducer's memory and I/O are its share of the data, and the number of
files is the number of map jobs (not maps x reducers). The number of reducers can be chosen after the
maps ran, from their sizes.
"""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.common.partitions import PartWriter

SHUFFLE_GROUP_ROWS = 1 << 16   # small row groups: fine-grained skipping by the readers
ROUTE_BITS = 31                # routing values are int64 in [0, 2**31) (Parquet filters take C longs)


def write_sorted(path: str | os.PathLike, table: pa.Table, by: Sequence[str], schema: pa.Schema | None = None) -> int:
    """Sort `table` by the columns `by` (ascending) and write it for range reads; returns rows written."""
    table = table.sort_by([(c, "ascending") for c in by]) if table.num_rows else table
    with PartWriter(path, schema or table.schema, max_rows=SHUFFLE_GROUP_ROWS) as out:
        out.write(table)
    return table.num_rows


def read_range(paths: Sequence[str | os.PathLike], column: str, lo: int, hi: int | None,
               columns: Sequence[str] | None = None) -> pa.Table:
    """Rows of every file with lo <= column < hi (hi None: no upper bound), files in the given order."""
    filters = [(column, ">=", lo)] + ([(column, "<", hi)] if hi is not None else [])
    tables = [pq.read_table(p, columns=list(columns) if columns else None, filters=filters) for p in paths]
    tables = [t for t in tables if t.num_rows]
    if not tables:
        schema = pq.read_schema(paths[0]) if paths else pa.schema([])
        if columns:
            schema = pa.schema([schema.field(c) for c in columns])
        return schema.empty_table()
    return pa.concat_tables(tables)


def read_range_by_file(paths: Sequence[str | os.PathLike], column: str, lo: int, hi: int | None,
                       columns: Sequence[str], tag: str = "part") -> pa.Table:
    """read_range, plus column `tag` = each row's file position in `paths`. Map outputs then need not name
    their own partition: a partition whose bytes did not change keeps its committed output even when a new
    partition before it shifts the numbering."""
    filters = [(column, ">=", lo)] + ([(column, "<", hi)] if hi is not None else [])
    tables = []
    for i, path in enumerate(paths):
        t = pq.read_table(path, columns=list(columns), filters=filters)
        if t.num_rows:
            tables.append(t.append_column(tag, pa.array(np.full(t.num_rows, i, dtype=np.int64))))
    if not tables:
        schema = pq.read_schema(paths[0]) if paths else pa.schema([])
        return pa.schema([schema.field(c) for c in columns] + [pa.field(tag, pa.int64())]).empty_table()
    return pa.concat_tables(tables)


def route_of(keys: np.ndarray) -> np.ndarray:
    """The routing value of uniformly distributed uint64 keys: their top ROUTE_BITS bits, as int64."""
    return (keys.astype(np.uint64) >> np.uint64(64 - ROUTE_BITS)).astype(np.int64)


def route_ranges(n: int) -> list[tuple[int, int | None]]:
    """n contiguous ranges covering the routing space (the last one open-ended)."""
    if n < 1:
        raise ValueError(f"need at least one range, got {n}")
    step = (1 << ROUTE_BITS) // n
    return [(i * step, (i + 1) * step if i < n - 1 else None) for i in range(n)]


def reducers_for(rows: int, row_bytes: int, target_bytes: int, least: int = 2) -> int:
    """How many reducers keep each one's share of `rows` rows near `target_bytes`."""
    return max(least, math.ceil(rows * row_bytes / max(1, target_bytes)))


def column_array(table: pa.Table, name: str, dtype: np.dtype) -> np.ndarray:
    """A numeric column as a numpy array (no nulls expected)."""
    col = table.column(name)
    return col.to_numpy().astype(dtype, copy=False) if len(col) else np.zeros(0, dtype=dtype)
