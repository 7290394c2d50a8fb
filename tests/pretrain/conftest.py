"""Fixtures for the pretrain tests (helpers live in pretrain_testutil.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from pretrain_testutil import build_tokenizer, write_split


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tokenizer(tmp_path_factory.mktemp("tok") / "tokenizer.json")


@pytest.fixture(scope="session")
def packed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("packed")
    write_split(root / "train", 64, 16, seed=1)
    write_split(root / "val", 16, 16, seed=2, shards=1)
    write_split(root / "cooldown", 32, 16, seed=3)
    return root


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """One intra-op thread: on a shared, oversubscribed machine spinning OpenMP threads cost 10x."""
    import torch

    torch.set_num_threads(1)
