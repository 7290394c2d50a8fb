"""Helpers for the pretrain tests: a tiny tokenizer, packed shards, a tiny params section."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tasks.pack.format import dtype_for_vocab, write_header, write_shard

VOCAB = 64
SPECIALS = ("<s>", "</s>")


def build_tokenizer(path: Path) -> Path:
    """A word-level tokenizer with VOCAB entries (two specials) plus tokenizer_config.json beside it."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    vocab.update({f"w{i}": i for i in range(len(SPECIALS), VOCAB)})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="w2"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(list(SPECIALS))
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    (path.parent / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>"}), encoding="utf-8")
    return path


def markov_tokens(n: int, seed: int) -> np.ndarray:
    """A learnable stream: mostly next = (3 * prev + 1) mod VOCAB, sometimes a random jump."""
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.int64)
    out[0] = 2
    jumps = rng.random(n) < 0.1
    rand = rng.integers(2, VOCAB, n)
    for i in range(1, n):
        out[i] = rand[i] if jumps[i] else (3 * out[i - 1] + 1) % VOCAB
    return out


def write_split(split_dir: Path, n_seq: int, seq_len: int, seed: int, shards: int = 2) -> dict[str, Any]:
    tokens = markov_tokens(n_seq * seq_len, seed).astype(dtype_for_vocab(VOCAB))
    per = -(-n_seq // shards)
    entries = []
    for i in range(shards):
        chunk = tokens[i * per * seq_len:(i + 1) * per * seq_len]
        if chunk.size:
            entries.append(write_shard(split_dir, i, chunk, seq_len))
    return write_header(split_dir, dtype=tokens.dtype, seq_len=seq_len, vocab_size=VOCAB, shards=entries)


def tiny_section(**overrides: Any) -> dict[str, Any]:
    """A `pretrain` params section for the tiny model: seconds, not minutes."""
    section = {"model": "tiny", "steps": 8, "batch_size": 2, "grad_accum": 2, "lr": 3e-3, "warmup": 2,
               "threads": 1, "checkpoint_every": 4, "eval_every": 4, "eval_batches": 2, "device": "cpu",
               "peak_flops": 1e10, "seed": 7}
    section.update(overrides)
    return section


def read_log(out_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out_dir / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]
