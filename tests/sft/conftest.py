"""Fixtures for the sft tests (helpers live in sft_testutil.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sft_testutil import build_base, build_tokenizer


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tokenizer(tmp_path_factory.mktemp("sft-tok"))


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer_path: Path) -> Path:
    return build_base(tmp_path_factory.mktemp("sft-base") / "export", tokenizer_path)


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> None:
    """One intra-op thread: on a shared, oversubscribed machine spinning OpenMP threads cost 10x."""
    import torch

    torch.set_num_threads(1)
