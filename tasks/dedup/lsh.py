"""LSH as a shuffle: band keys per partition, candidate pairs per range of buckets.

A document's band b is the run of `rows` MinHash values starting at b * rows; its bucket key is a
64-bit hash of (b, those values), so buckets of different bands never mix and one key column serves
every band. Each signature job writes its (bucket, doc) rows sorted by routing value; a candidates
job reads one routing range from every job's file (tasks.common.shuffle) and pairs the documents
that share a bucket.

A bucket with more than `max_bucket` members (forks of one popular repository) would give
m(m-1)/2 pairs; it gives a star to its smallest member plus a chain through all members instead:
2m pairs that still connect every true duplicate whose verification succeeds with its neighbour.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from tasks.common.shuffle import column_array, read_range, read_range_by_file, route_of, write_sorted
from tasks.dedup.shingles import fmix64

BANDS_SCHEMA = pa.schema([("route", pa.int64()), ("bucket", pa.uint64()), ("row", pa.int64())])  # row: in its partition
PAIRS_SCHEMA = pa.schema([("pa", pa.int64()), ("a", pa.int64()), ("b", pa.int64())])
_BAND_SEED = np.uint64(0x9E3779B97F4A7C15)
_ROW_MULT = np.uint64(0xD6E8FEB86659FD93)
DOC_BITS = 32  # doc id = partition << 32 | row of the partition's signature file


def doc_ids_of(partitions: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return (partitions.astype(np.int64) << np.int64(DOC_BITS)) | rows.astype(np.int64)


def partition_of(docs: np.ndarray) -> np.ndarray:
    return docs >> np.int64(DOC_BITS)


def row_of(docs: np.ndarray) -> np.ndarray:
    return docs & np.int64((1 << DOC_BITS) - 1)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """uint64[n, bands]: the bucket key of every document's every band."""
    n = len(sigs)
    out = np.empty((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for b in range(bands):
            h = np.full(n, _BAND_SEED * np.uint64(b + 1), dtype=np.uint64)
            for j in range(b * rows, (b + 1) * rows):
                h ^= sigs[:, j].astype(np.uint64)
                h *= _ROW_MULT
                h = fmix64(h)
            out[:, b] = h
    return out


def write_bands(path: str, docs: np.ndarray, sigs: np.ndarray, bands: int, rows: int) -> int:
    """The (route, bucket, row) rows of one partition's documents (`docs`: their rows in the partition's
    signature file), sorted for range reads; the reader adds the partition (doc = partition << 32 | row)."""
    keys = band_keys(sigs, bands, rows).reshape(-1)
    table = pa.table({"route": pa.array(route_of(keys), pa.int64()), "bucket": pa.array(keys, pa.uint64()),
                      "row": pa.array(np.repeat(docs.astype(np.int64), bands), pa.int64())}, schema=BANDS_SCHEMA)
    return write_sorted(path, table, ["route", "bucket", "row"])


def bucket_pairs(buckets: np.ndarray, docs: np.ndarray, max_bucket: int) -> tuple[np.ndarray, dict[str, int]]:
    """int64[m, 2] unique pairs (a < b) of documents sharing a bucket, sorted; and counts."""
    stats = {"bucket_rows": int(len(buckets)), "buckets_shared": 0, "buckets_capped": 0, "pairs_from_capped": 0}
    if len(buckets) < 2:
        return np.zeros((0, 2), dtype=np.int64), stats
    order = np.lexsort((docs, buckets))
    b, d = buckets[order], docs[order]
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    sizes = np.diff(np.r_[starts, len(b)])
    parts = []
    two = starts[sizes == 2]
    if len(two):
        parts.append(np.stack([d[two], d[two + 1]], axis=1))
    for s, m in zip(starts[sizes > 2], sizes[sizes > 2]):
        members = np.unique(d[s:s + m])
        k = len(members)
        if k <= max_bucket:
            i, j = np.triu_indices(k, 1)
            parts.append(np.stack([members[i], members[j]], axis=1))
        else:
            stats["buckets_capped"] += 1
            star = np.stack([np.full(k - 1, members[0]), members[1:]], axis=1)
            chain = np.stack([members[1:-1], members[2:]], axis=1)
            parts += [star, chain]
            stats["pairs_from_capped"] += len(star) + len(chain)
    stats["buckets_shared"] = int(np.count_nonzero(sizes >= 2))
    if not parts:
        return np.zeros((0, 2), dtype=np.int64), stats
    pairs = np.concatenate(parts)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.sort(pairs, axis=1)
    return np.unique(pairs, axis=0), stats


def candidates_job(inputs: tuple[str, ...], outs: dict[str, str], lo: int, hi: int | None,
                   max_bucket: int) -> dict[str, Any]:
    """Job body: the candidate pairs of one routing range of every partition's bands (inputs: the band
    files in partition order), routed by a's partition."""
    table = read_range_by_file(inputs, "route", lo, hi, ["bucket", "row"])
    docs = doc_ids_of(column_array(table, "part", np.int64), column_array(table, "row", np.int64))
    pairs, stats = bucket_pairs(column_array(table, "bucket", np.uint64), docs, max_bucket)
    out = pa.table({"pa": pa.array(partition_of(pairs[:, 0]), pa.int64()), "a": pa.array(pairs[:, 0], pa.int64()),
                    "b": pa.array(pairs[:, 1], pa.int64())}, schema=PAIRS_SCHEMA)
    write_sorted(outs["pairs"], out, ["pa", "a", "b"])
    return {**stats, "pairs": int(len(pairs))}


def read_pairs(paths: tuple[str, ...], partition: int) -> np.ndarray:
    """The unique candidate pairs whose first document lies in `partition` (a pair found by several
    bands, in several ranges, once)."""
    table = read_range(paths, "pa", partition, partition + 1, ["a", "b"])
    if not table.num_rows:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.stack([column_array(table, "a", np.int64), column_array(table, "b", np.int64)], axis=1)
    return np.unique(pairs, axis=0)
