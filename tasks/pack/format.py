"""On-disk format of packed token shards, shared by `pack` (writer) and `pretrain`/`evaluate` (readers).

A split directory (`data/packed/train/`, `data/packed/val/`, ...) holds flat binary token arrays
`part-00000.bin`, ... (native little-endian uint16 while the vocabulary fits, else uint32), each a
whole number of fixed-length sequences, and `header.json`:

    {"format": "coder-pipeline/packed-v1", "dtype": "uint16", "seq_len": 1024, "vocab_size": 32000,
     "n_sequences": 123, "n_tokens": 125952,
     "shards": [{"file": "part-00000.bin", "n_sequences": 100, "sha256": "..."}, ...],
     ...stage-specific fields such as "mixture", "fim"...}

Readers memory-map the shards, so a corpus larger than memory trains without loading it.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasks.common.io import atomic_write_bytes, atomic_write_json

FORMAT = "coder-pipeline/packed-v1"


def dtype_for_vocab(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


def shard_file(index: int) -> str:
    return f"part-{index:05d}.bin"


def write_shard(split_dir: str | os.PathLike, index: int, tokens: np.ndarray, seq_len: int) -> dict[str, Any]:
    """Write one shard atomically; `tokens` must hold whole sequences. Returns its header entry."""
    if tokens.ndim != 1 or tokens.size % seq_len:
        raise ValueError(f"shard {index}: {tokens.size} tokens is not a whole number of {seq_len}-token sequences")
    data = np.ascontiguousarray(tokens.astype(tokens.dtype.newbyteorder("<"), copy=False)).tobytes()
    name = shard_file(index)
    atomic_write_bytes(Path(split_dir) / name, data)
    return {"file": name, "n_sequences": tokens.size // seq_len, "sha256": hashlib.sha256(data).hexdigest()}


def write_header(split_dir: str | os.PathLike, *, dtype: np.dtype, seq_len: int, vocab_size: int,
                 shards: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    n_seq = sum(s["n_sequences"] for s in shards)
    header = {"format": FORMAT, "dtype": np.dtype(dtype).name, "seq_len": seq_len, "vocab_size": vocab_size,
              "n_sequences": n_seq, "n_tokens": n_seq * seq_len, "shards": shards, **extra}
    atomic_write_json(Path(split_dir) / "header.json", header)
    return header


@dataclass
class PackedDataset:
    """Memory-mapped view of a packed split: `ds[i]` is sequence i as an int64 numpy array."""

    split_dir: Path
    header: dict[str, Any]
    _maps: list[np.memmap]
    _starts: np.ndarray

    @classmethod
    def open(cls, split_dir: str | os.PathLike) -> "PackedDataset":
        split_dir = Path(split_dir)
        header = json.loads((split_dir / "header.json").read_text(encoding="utf-8"))
        if header.get("format") != FORMAT:
            raise ValueError(f"{split_dir}/header.json: unknown format {header.get('format')!r}")
        dtype = np.dtype(header["dtype"]).newbyteorder("<")
        seq_len = int(header["seq_len"])
        maps, counts = [], []
        for shard in header["shards"]:
            n = int(shard["n_sequences"])
            path = split_dir / shard["file"]
            expected = n * seq_len * dtype.itemsize
            if path.stat().st_size != expected:
                raise ValueError(f"{path}: size {path.stat().st_size} != {expected} bytes declared in header")
            maps.append(np.memmap(path, dtype=dtype, mode="r", shape=(n, seq_len)) if n else np.zeros((0, seq_len), dtype))
            counts.append(n)
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(split_dir, header, maps, starts)

    @property
    def seq_len(self) -> int:
        return int(self.header["seq_len"])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: int) -> np.ndarray:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        shard = int(np.searchsorted(self._starts, index, side="right") - 1)
        return np.asarray(self._maps[shard][index - self._starts[shard]], dtype=np.int64)
