"""Deterministic choice of the BPE training sample and the held-out set.

Every repo-level sample gets a uniform draw u = stable_hash64(seed, "tokenizer", repo, sample) / 2**64.
u < heldout_fraction puts it in the held-out set (never trained on, used for the metrics). Among the
rest, the training sample is the bottom-k by u until `sample_bytes` is reached: a uniform sample that
depends neither on the shard layout nor on worker count, and grows monotonically with the budget.
The held-out samples the metrics are computed on are chosen the same way, up to `eval_bytes`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
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
    """Rows chosen for training, as {shard path: sorted row indices}, and what they weigh; the same
    for the bounded held-out evaluation sample."""

    rows: dict[str, np.ndarray]
    n_docs: int
    n_bytes: int
    n_candidates: int
    n_heldout: int
    eval_rows: dict[str, np.ndarray] = field(default_factory=dict)
    eval_docs: int = 0
    eval_bytes: int = 0


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


_FIELDS = ("u", "shard", "row", "size")


def _empty() -> dict[str, np.ndarray]:
    return {"u": np.zeros(0, np.float64), "shard": np.zeros(0, np.int64), "row": np.zeros(0, np.int64),
            "size": np.zeros(0, np.int64)}


def _keep_bottom(cur: dict[str, np.ndarray], new: dict[str, np.ndarray], budget: int) -> dict[str, np.ndarray]:
    """The rows of cur + new with the smallest draws (ties by position) while the bytes before them are
    under `budget`: a running bottom-k, so memory is the sample, never the corpus."""
    merged = {k: np.concatenate([cur[k], new[k]]) for k in _FIELDS}
    order = np.lexsort((merged["row"], merged["shard"], merged["u"]))
    size = merged["size"][order]
    cum = np.cumsum(size)
    k = int(np.searchsorted(cum - size, budget, side="left")) if len(cum) else 0
    take = order[:k]
    return {f: merged[f][take] for f in _FIELDS}


def _by_shard(sel: dict[str, np.ndarray], shards: list[Path]) -> dict[str, np.ndarray]:
    rows: dict[str, np.ndarray] = {}
    for si, path in enumerate(shards):
        chosen = np.sort(sel["row"][sel["shard"] == si])
        if chosen.size:
            rows[str(path)] = chosen
    return rows


def choose_training_sample(clean_dir: str | os.PathLike, cfg: Config) -> TrainingSample:
    """One pass over (repo, sample, size) columns only, partition by partition; memory is the chosen
    samples plus one partition's draws, whatever the corpus size."""
    train, held = _empty(), _empty()
    shards = list_shards(clean_dir)
    n_heldout = n_candidates = 0
    for si, path in enumerate(shards):
        us, sizes = [], []
        for repos, samples, szs in _sizes(pq.ParquetFile(path)):
            us.extend(draw(cfg.seed, repo, int(sample or 0)) for repo, sample in zip(repos, samples))
            sizes.extend(szs)
        u = np.asarray(us, dtype=np.float64)
        size = np.asarray(sizes, dtype=np.int64)
        row = np.arange(len(u), dtype=np.int64)
        is_held = u < cfg.heldout_fraction
        usable = ~is_held & (size > 0)
        n_heldout += int(is_held.sum())
        n_candidates += int(usable.sum())
        part = {"u": u, "shard": np.full(len(u), si, np.int64), "row": row, "size": size}
        train = _keep_bottom(train, {k: v[usable] for k, v in part.items()}, cfg.sample_bytes)
        held = _keep_bottom(held, {k: v[is_held & (size > 0)] for k, v in part.items()}, cfg.eval_bytes)
    return TrainingSample(rows=_by_shard(train, shards), n_docs=len(train["u"]), n_bytes=int(train["size"].sum()),
                          n_candidates=n_candidates, n_heldout=n_heldout, eval_rows=_by_shard(held, shards),
                          eval_docs=len(held["u"]), eval_bytes=int(held["size"].sum()))


def iter_chosen_rows(rows: dict[str, np.ndarray], columns: list[str], batch_size: int = 256) -> Iterator[dict]:
    """The chosen rows (as dicts of `columns`) in (shard, row) order, read batch by batch (bounded memory)."""
    for path in sorted(rows, key=lambda p: Path(p).name):
        wanted = rows[path]
        pf = pq.ParquetFile(path)
        cols = [c for c in columns if c in pf.schema_arrow.names]
        start = 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=cols):
            n = batch.num_rows
            lo, hi = np.searchsorted(wanted, [start, start + n])
            if hi > lo:
                picked = batch.take(pa.array(wanted[lo:hi] - start, pa.int64())).to_pylist()
                yield from picked
            start += n


def iter_training_texts(sample: TrainingSample, batch_size: int = 256) -> Iterator[str]:
    """Texts of the chosen training rows in (shard, row) order."""
    for row in iter_chosen_rows(sample.rows, ["text"], batch_size):
        if row["text"]:
            yield row["text"]
