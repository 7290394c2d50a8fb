"""Partitions: the unit of data and of parallelism of every data stage.

- `plan_partitions` cuts the repo-sorted corpus into partitions of about `target_bytes`, never
  splitting a repository. Cut points are content-defined (a repository ends a partition when its own
  hash draw falls under its share of the target), so adding or removing a repository moves at most
  the partition it lands in: a nightly delta leaves the other partitions byte-identical and their
  cached outputs reusable.
- `PartWriter` streams record batches into one Parquet file with row groups capped by rows and by
  bytes, cut where the data says (never where a batch happened to end): the same rows give the same
  bytes however they were batched, and a reader never decodes more than one bounded row group.
- `iter_repo_tables` reads a repo-sorted partition one repository at a time.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.common.hashing import stable_hash64

# a forced cut before a partition passes MAX_FACTOR x target: natural cuts give exponential-like sizes
# (mean ~ target), and a stage's memory follows its largest partition, so the tail is cut short: at
# 2.0 the 20x corpus's largest partition was 2x the target where the 1x corpus's was 1.4x, and
# every stage's largest process grew with it; at 1.25 the largest is 1.25x at any size (the 20x
# corpus: 80 -> 96 partitions, median 11.4 -> 13.0 MiB). Forced cuts stay local to the run of
# repositories between two natural cuts, so a nightly delta still moves only the partitions it touches.
MAX_FACTOR = 1.25
ROW_GROUP_ROWS = 4096
ROW_GROUP_BYTES = 32 << 20
READ_BATCH_ROWS = 1024
_SCALE = float(2**64)


# ---------------------------------------------------------------- planning
def effective_target(total_bytes: int, target_bytes: int, min_partitions: int) -> int:
    """The target size: `target_bytes`, smaller for a corpus under min_partitions x target, so a small
    corpus still gets several partitions (and tests run the parallel path)."""
    if target_bytes < 1:
        raise ValueError(f"target_bytes must be >= 1, got {target_bytes}")
    if min_partitions > 1:
        return max(1, min(target_bytes, total_bytes // min_partitions))
    return target_bytes


def plan_partitions(items: Sequence[tuple[str, int]], target_bytes: int, *, min_partitions: int = 1,
                    max_factor: float = MAX_FACTOR, salt: str = "partition") -> list[tuple[int, int]]:
    """[start, end) ranges over `items` = (key, bytes) sorted by key; every item lands in exactly one range.

    A partition ends after an item when stable_hash64(salt, key) / 2**64 < bytes / target (a natural,
    content-defined cut: expected partition size ~ target), or before an item that would take it past
    max_factor x target (a forced cut, local to the run of items between two natural cuts).
    """
    keys = [k for k, _ in items]
    if any(keys[i] >= keys[i + 1] for i in range(len(keys) - 1)):
        raise ValueError("plan_partitions: keys must be unique and sorted")
    if not items:
        return []
    total = sum(max(1, int(b)) for _, b in items)
    target = effective_target(total, target_bytes, min_partitions)
    cap = max_factor * target
    ranges: list[tuple[int, int]] = []
    start, acc = 0, 0
    for i, (key, size) in enumerate(items):
        w = max(1, int(size))
        if i > start and acc + w > cap:
            ranges.append((start, i))
            start, acc = i, 0
        acc += w
        if stable_hash64(salt, key) / _SCALE < w / target:
            ranges.append((start, i + 1))
            start, acc = i + 1, 0
    if start < len(items):
        ranges.append((start, len(items)))
    return ranges


def part_name(index: int) -> str:
    """File name of partition `index`; zero-padded so lexical order is numeric order."""
    return f"part-{index:05d}.parquet"


def partition_index(path: str | os.PathLike) -> int:
    """The index in a partition's file name (part-00012.parquet -> 12): the same in every stage."""
    stem = Path(path).name.split(".", 1)[0]
    prefix, _, number = stem.partition("-")
    if prefix != "part" or not number.isdigit():
        raise ValueError(f"{path}: not a partition file name (part-NNNNN.parquet)")
    return int(number)


# ---------------------------------------------------------------- row sizes
def row_nbytes(data: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Approximate bytes of every row: variable-length payloads plus 8 bytes per column (for caps)."""
    n = data.num_rows
    total = np.full(n, 8 * max(1, data.num_columns), dtype=np.int64)
    if n == 0:
        return total
    for col in data.columns:
        typ = col.type
        if pa.types.is_string(typ) or pa.types.is_binary(typ) or pa.types.is_large_string(typ) \
                or pa.types.is_large_binary(typ):
            total += pc.fill_null(pc.binary_length(col), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        elif pa.types.is_fixed_size_binary(typ):
            total += typ.byte_width
        elif pa.types.is_list(typ) or pa.types.is_large_list(typ):
            arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            flat = pc.list_flatten(arr)
            if len(flat) == 0:
                continue
            parents = pc.list_parent_indices(arr).to_numpy(zero_copy_only=False)
            vt = typ.value_type
            if pa.types.is_string(vt) or pa.types.is_binary(vt) or pa.types.is_large_string(vt):
                lens = pc.fill_null(pc.binary_length(flat), 0).to_numpy(zero_copy_only=False).astype(np.float64)
            else:
                lens = np.full(len(flat), 8.0)
            total += np.bincount(parents, weights=lens, minlength=n).astype(np.int64)
    return total


# ---------------------------------------------------------------- writing
class PartWriter:
    """One Parquet file written from a stream of tables/batches, atomically and deterministically.

    Row groups hold at most `max_rows` rows and about `max_bytes` bytes (at least one row); the cuts
    depend only on the row sequence. The file appears at `path` only on `close()` (temp + rename);
    an exception inside the `with` block leaves nothing behind.
    """

    def __init__(self, path: str | os.PathLike, schema: pa.Schema, *, max_rows: int = ROW_GROUP_ROWS,
                 max_bytes: int = ROW_GROUP_BYTES) -> None:
        from tasks.common.io import _tmp_sibling

        self.path = Path(path)
        self.schema = schema
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.rows = 0
        self._tmp = _tmp_sibling(self.path)
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd", compression_level=3,
                                        use_dictionary=True, write_statistics=True)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._closed = False

    def write(self, data: pa.Table | pa.RecordBatch) -> None:
        if data.num_rows == 0:
            return
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        if table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        self._pending.append(table)
        self._pending_rows += table.num_rows
        self._pending_bytes += int(row_nbytes(table).sum())
        while self._pending_rows >= self.max_rows or self._pending_bytes >= self.max_bytes:
            if not self._flush_group():
                break

    def _flush_group(self, final: bool = False) -> bool:
        """Write the first row group of the pending rows; False when they do not yet make one."""
        if not self._pending_rows:
            return False
        table = pa.concat_tables(self._pending) if len(self._pending) > 1 else self._pending[0]
        sizes = np.cumsum(row_nbytes(table))
        over = int(np.searchsorted(sizes, self.max_bytes, side="left")) + 1  # rows up to the first past the cap
        k = min(self.max_rows, over, table.num_rows)
        if k == table.num_rows and not final and k < self.max_rows and sizes[-1] < self.max_bytes:
            return False
        group = table.slice(0, k).combine_chunks()
        self._writer.write_table(group, row_group_size=max(1, k))
        self.rows += k
        rest = table.slice(k)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows
        self._pending_bytes = int(sizes[-1] - sizes[k - 1]) if rest.num_rows else 0
        return True

    def close(self) -> int:
        """Flush, move the file into place; returns the number of rows written."""
        if self._closed:
            return self.rows
        try:
            while self._flush_group(final=True):
                pass
            self._writer.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.rows

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._writer.close()
        except Exception:
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "PartWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# ---------------------------------------------------------------- reading
def iter_batches(path: str | os.PathLike, columns: Sequence[str] | None = None,
                 batch_rows: int = READ_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of a Parquet file, one bounded row group at a time."""
    pf = pq.ParquetFile(path)
    cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
    yield from pf.iter_batches(batch_size=batch_rows, columns=cols)


def iter_repo_tables(path: str | os.PathLike, columns: Sequence[str] | None = None,
                     batch_rows: int = READ_BATCH_ROWS, key: str = "repo") -> Iterator[pa.Table]:
    """One table per repository of a file whose rows are grouped by `key` (contiguous runs), in file order.

    Memory: one repository's rows plus one batch.
    """
    pending: list[pa.Table] = []
    current: object = None
    for batch in iter_batches(path, columns, batch_rows):
        if batch.num_rows == 0:
            continue
        repos = batch.column(key).to_pylist()
        start = 0
        for i in range(1, len(repos) + 1):
            if i < len(repos) and repos[i] == repos[start]:
                continue
            piece = pa.Table.from_batches([batch.slice(start, i - start)])
            if pending and repos[start] != current:
                yield pa.concat_tables(pending)
                pending = []
            pending.append(piece)
            current = repos[start]
            start = i
    if pending:
        yield pa.concat_tables(pending)


def concat_files(paths: Iterable[str | os.PathLike], out: PartWriter, columns: Sequence[str] | None = None) -> int:
    """Append every row of `paths`, in order, to `out`, batch by batch; returns the rows copied."""
    n = 0
    for path in paths:
        for batch in iter_batches(path, columns):
            out.write(batch)
            n += batch.num_rows
    return n
