"""Deterministic choice of the BPE training sample and the held-out set.

Every repo-level sample gets a uniform draw u = stable_hash64(seed, "tokenizer", repo, sample) / 2**64.
u < heldout_fraction puts it in the held-out set (never trained on, used for the metrics). Among the
rest, the training sample is the bottom-k by u until `sample_bytes` is reached: a uniform sample that
depends neither on the shard layout nor on worker count, and grows monotonically with the budget.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq

from tasks.common.hashing import stable_hash64
from tasks.common.io import list_shards
from tasks.tokenizer.config import Config

_SCALE = float(2**64)


def draw(seed: int, repo: str, sample: int) -> float:
    return stable_hash64(seed, "tokenizer", repo, int(sample)) / _SCALE


def is_heldout(cfg: Config, repo: str, sample: int) -> bool:
    return draw(cfg.seed, repo, sample) < cfg.heldout_fraction


@dataclass(frozen=True)
class TrainingSample:
    """Rows chosen for training, as {shard path: sorted row indices}, and what they weigh."""

    rows: dict[str, np.ndarray]
    n_docs: int
    n_bytes: int
    n_candidates: int
    n_heldout: int


def _sizes(pf: pq.ParquetFile) -> Iterator[tuple[list[str], list[int], list[int]]]:
    names = set(pf.schema_arrow.names)
    cols = ["repo", "sample"] + (["size"] if "size" in names else ["text"])
    for batch in pf.iter_batches(batch_size=8192, columns=cols):
        d = batch.to_pydict()
        if "size" in d:
            sizes = [int(s or 0) for s in d["size"]]
        else:
            sizes = [len(t.encode("utf-8")) if t else 0 for t in d["text"]]
        yield d["repo"], d["sample"], sizes


def choose_training_sample(clean_dir: str | os.PathLike, cfg: Config) -> TrainingSample:
    """One pass over (repo, sample, size) columns only; memory is ~24 bytes per candidate row."""
    us, shard_ix, row_ix, sizes = [], [], [], []
    shards = list_shards(clean_dir)
    n_heldout = 0
    for si, path in enumerate(shards):
        row = 0
        for repos, samples, szs in _sizes(pq.ParquetFile(path)):
            for repo, sample, size in zip(repos, samples, szs):
                u = draw(cfg.seed, repo, int(sample or 0))
                if u < cfg.heldout_fraction:
                    n_heldout += 1
                elif size > 0:
                    us.append(u); shard_ix.append(si); row_ix.append(row); sizes.append(size)
                row += 1
    u_arr = np.asarray(us, dtype=np.float64)
    order = np.lexsort((np.asarray(row_ix), np.asarray(shard_ix), u_arr))  # u first, ties by position
    size_arr = np.asarray(sizes, dtype=np.int64)[order]
    cum = np.cumsum(size_arr)
    # take rows while the running total before them is under budget (the last one may cross it)
    k = int(np.searchsorted(cum - size_arr, cfg.sample_bytes, side="left")) if len(cum) else 0
    chosen = order[:k]
    rows: dict[str, np.ndarray] = {}
    sh = np.asarray(shard_ix, dtype=np.int64)[chosen]
    rw = np.asarray(row_ix, dtype=np.int64)[chosen]
    for si, path in enumerate(shards):
        sel = np.sort(rw[sh == si])
        if sel.size:
            rows[str(path)] = sel
    return TrainingSample(rows=rows, n_docs=int(k), n_bytes=int(size_arr[:k].sum()),
                          n_candidates=len(us), n_heldout=n_heldout)


def iter_training_texts(sample: TrainingSample, batch_size: int = 256) -> Iterator[str]:
    """Texts of the chosen rows in (shard, row) order, read batch by batch (bounded memory)."""
    for path in sorted(sample.rows, key=lambda p: Path(p).name):
        wanted = sample.rows[path]
        pf = pq.ParquetFile(path)
        start = 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=["text"]):
            n = batch.num_rows
            lo, hi = np.searchsorted(wanted, [start, start + n])
            if hi > lo:
                texts = batch.column(0).to_pylist()
                for r in wanted[lo:hi]:
                    t = texts[int(r) - start]
                    if t:
                        yield t
            start += n
