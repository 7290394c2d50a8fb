"""The shard format: what write_shard/write_header put down, PackedDataset reads back."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tasks.pack.format import FORMAT, PackedDataset, dtype_for_vocab, write_header, write_shard


@pytest.mark.parametrize("vocab", [32000, 65536, 100_000])
def test_memmap_reader_reads_back_what_was_written(tmp_path, vocab):
    dtype = dtype_for_vocab(vocab)
    assert dtype == (np.uint16 if vocab <= 65536 else np.uint32)
    rng = np.random.default_rng(vocab)
    seq_len = 7
    chunks = [rng.integers(0, vocab, size=n * seq_len).astype(dtype) for n in (3, 0, 5, 1)]
    shards = [write_shard(tmp_path, i, c, seq_len) for i, c in enumerate(chunks)]
    header = write_header(tmp_path, dtype=dtype, seq_len=seq_len, vocab_size=vocab, shards=shards, fim={"psm": 1})
    assert header["n_sequences"] == 9 and header["n_tokens"] == 63 and header["format"] == FORMAT
    ds = PackedDataset.open(tmp_path)
    assert len(ds) == 9 and ds.seq_len == seq_len and ds.header["fim"] == {"psm": 1}
    expected = np.concatenate(chunks).reshape(-1, seq_len).astype(np.int64)
    for i in range(len(ds)):
        assert ds[i].dtype == np.int64 and (ds[i] == expected[i]).all()
    assert (ds[-1] == expected[-1]).all()
    with pytest.raises(IndexError):
        ds[9]
    raw = (tmp_path / "part-00000.bin").read_bytes()
    assert raw == chunks[0].astype(dtype.newbyteorder("<")).tobytes()  # little-endian on disk


def test_reader_rejects_inconsistent_files(tmp_path):
    shards = [write_shard(tmp_path, 0, np.arange(8, dtype=np.uint16), 4)]
    write_header(tmp_path, dtype=np.uint16, seq_len=4, vocab_size=100, shards=shards)
    with pytest.raises(ValueError, match="whole number"):
        write_shard(tmp_path, 1, np.arange(5, dtype=np.uint16), 4)
    (tmp_path / "part-00000.bin").write_bytes(b"\0" * 6)
    with pytest.raises(ValueError, match="size"):
        PackedDataset.open(tmp_path)
    h = json.loads((tmp_path / "header.json").read_text())
    h["format"] = "other"
    (tmp_path / "header.json").write_text(json.dumps(h))
    with pytest.raises(ValueError, match="unknown format"):
        PackedDataset.open(tmp_path)
