"""Shared fixtures for the evaluate tests: a tiny random checkpoint and a tiny packed split."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from tasks.evaluate.tiny import make_tiny_checkpoint

    torch.set_num_threads(1)  # a 40k-parameter model: threads only add contention on a shared box
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-model"), seed=0)


@pytest.fixture(scope="session")
def packed_val_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    from tasks.pack.format import write_header, write_shard

    vocab = 300
    out = tmp_path_factory.mktemp("packed-val")
    rng = np.random.default_rng(0)
    entries = [write_shard(out, i, rng.integers(0, vocab, size=3 * 32).astype(np.uint16), 32) for i in range(2)]
    write_header(out, dtype=np.uint16, seq_len=32, vocab_size=vocab, shards=entries)
    return out


@pytest.fixture(scope="session")
def heldout_texts() -> list[str]:
    return list(HELDOUT_TEXTS)


HELDOUT_TEXTS = [
    "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n",
    "import math\n\nvalue = math.sqrt(16)\nassert value == 4.0\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n",
    "short\n",  # no line long enough: no task, recorded by count
]
