"""Validation on our own held-out data: perplexity on packed sequences, next-line and FIM exact match.

These track the pretraining run itself (is the model learning *our* distribution?), where HumanEval
and MBPP measure transfer. Target lines are picked by a seeded hash of the document index, so the
same held-out texts always give the same tasks, whatever the order they are processed in.
"""
from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np
import torch

from tasks.common.hashing import stable_hash64
from tasks.evaluate.benchmarks import fim_completion, fim_exact, fim_prompt, subset
from tasks.evaluate.stops import first_line
from tasks.pack.format import PackedDataset


@torch.no_grad()
def perplexity(model: Any, split_dir: str | os.PathLike, max_sequences: int, batch_tokens: int = 8192) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Token-level cross-entropy over the first `max_sequences` packed sequences (evenly spread)."""
    ds = PackedDataset.open(split_dir)
    vocab = int(model.config.vocab_size)
    max_pos = int(getattr(model.config, "max_position_embeddings", 0) or ds.seq_len)
    seq_len = min(ds.seq_len, max_pos)
    device = next(model.parameters()).device
    indices = subset(range(len(ds)), max_sequences)
    per_batch = max(1, batch_tokens // seq_len)
    total_nll, total_tokens, records = 0.0, 0, []
    for start in range(0, len(indices), per_batch):
        idx = indices[start:start + per_batch]
        batch = torch.from_numpy(np.stack([ds[i][:seq_len] for i in idx]))
        if int(batch.max()) >= vocab:
            raise ValueError(f"{split_dir}: token id {int(batch.max())} >= model vocab_size {vocab}")
        batch = batch.to(device)
        logits = model(input_ids=batch).logits.float()
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="none"
        ).view(len(idx), -1).sum(dim=1)
        for i, value in zip(idx, nll.tolist()):
            records.append({"sequence": int(i), "mean_nll": round(value / (seq_len - 1), 6)})
            total_nll += value
            total_tokens += seq_len - 1
    loss = total_nll / max(total_tokens, 1)
    stats = {"n_sequences": len(indices), "n_tokens": total_tokens, "seq_len": seq_len,
             "loss": round(loss, 6), "perplexity": round(math.exp(min(loss, 700.0)), 6),
             "bits_per_token": round(loss / math.log(2), 6)}
    return stats, records


def _pick_line(text: str, salt: str, seed: int, index: int, min_chars: int, first: int) -> int | None:
    lines = text.splitlines(keepends=True)
    candidates = [i for i in range(first, len(lines)) if len(lines[i].strip()) >= min_chars]
    if not candidates:
        return None
    return candidates[stable_hash64(seed, salt, index) % len(candidates)]


def next_line_tasks(texts: Sequence[str], *, seed: int, max_docs: int, max_context_chars: int,
                    min_line_chars: int) -> list[dict[str, Any]]:
    """One task per document: the text before a chosen line is the prompt, the line the target."""
    tasks = []
    for doc, text in enumerate(texts[:max_docs]):
        line = _pick_line(text, "next_line", seed, doc, min_line_chars, first=1)
        if line is None:
            continue
        lines = text.splitlines(keepends=True)
        tasks.append({"doc": doc, "line": line, "prompt": "".join(lines[:line])[-max_context_chars:],
                      "target": lines[line]})
    return tasks


def fim_tasks(texts: Sequence[str], *, seed: int, max_docs: int, max_context_chars: int,
              min_line_chars: int) -> list[dict[str, Any]]:
    """One single-line infilling task per document: mask a chosen line, keep prefix and suffix."""
    tasks = []
    for doc, text in enumerate(texts[:max_docs]):
        line = _pick_line(text, "fim", seed, doc, min_line_chars, first=0)
        if line is None:
            continue
        lines = text.splitlines(keepends=True)
        prefix = "".join(lines[:line])[-max_context_chars:]
        suffix = "".join(lines[line + 1:])[:max_context_chars]
        tasks.append({"doc": doc, "line": line, "prompt": fim_prompt(prefix, suffix), "target": lines[line]})
    return tasks


def score_next_line(tasks: Sequence[dict[str, Any]], raw: Sequence[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    records = []
    for task, out in zip(tasks, raw):
        guess = first_line(out)
        records.append({"doc": task["doc"], "line": task["line"], "target": task["target"], "completion": guess,
                        "exact_match": guess.strip() == task["target"].strip()})
    return _em_stats(records), records


def score_fim(tasks: Sequence[dict[str, Any]], raw: Sequence[str], stop_at_newline: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    records = []
    for task, out in zip(tasks, raw):
        guess = fim_completion(out, stop_at_newline)
        records.append({"doc": task["doc"], "line": task["line"], "target": task["target"], "completion": guess,
                        "exact_match": fim_exact(guess, task["target"])})
    return _em_stats(records), records


def _em_stats(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    hits = sum(r["exact_match"] for r in records)
    return {"n": n, "exact_match": round(hits / n, 6) if n else None, "n_correct": hits}


def read_heldout_texts(directory: str | os.PathLike, max_docs: int) -> list[str]:
    """The first `max_docs` non-empty `text` values of a Parquet shard directory, in shard order."""
    import pyarrow.parquet as pq

    from tasks.common.io import list_shards

    texts: list[str] = []
    for shard in list_shards(directory):
        for value in pq.read_table(shard, columns=["text"]).column("text").to_pylist():
            if value:
                texts.append(value)
                if len(texts) >= max_docs:
                    return texts
    return texts
