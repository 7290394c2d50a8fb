"""Data order: a bijective, seeded order; windows that tile the token stream; rank split = accumulation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from pretrain_testutil import markov_tokens, write_split

from tasks.pretrain.data import Sampler, TokenWindows, eval_windows, micro_batch, permute


def test_pretrain_permutation_is_seeded_bijection() -> None:
    for n in (1, 2, 10, 1000, 4097):
        perm = permute(np.arange(n), n, key=5)
        assert sorted(perm.tolist()) == list(range(n))
    a, b = permute(np.arange(1000), 1000, 5), permute(np.arange(1000), 1000, 6)
    assert not np.array_equal(a, b) and np.array_equal(a, permute(np.arange(1000), 1000, 5))
    assert abs(np.corrcoef(a, np.arange(1000))[0, 1]) < 0.2  # actually shuffled


def test_pretrain_windows_tile_the_stream(tmp_path: Path) -> None:
    write_split(tmp_path, n_seq=10, seq_len=8, seed=4, shards=3)
    stream = markov_tokens(80, 4)
    for length in (8, 5, 24):  # same as packed, shorter, and a long-context 3x window across shards
        w = TokenWindows(tmp_path, length)
        assert w.n_windows == (80 - 1) // length
        for i in range(w.n_windows):
            assert np.array_equal(w.window(i), stream[i * length:i * length + length + 1])


def test_pretrain_ranks_see_the_accumulation_micro_batches(tmp_path: Path) -> None:
    write_split(tmp_path, n_seq=40, seq_len=8, seed=5)
    w = TokenWindows(tmp_path, 8)
    sampler = Sampler(w.n_windows, seed=3, stream="main")
    b, consumed = 2, 12
    single = [micro_batch(w, sampler, consumed, m, rank=0, world=1, batch_size=b)[0] for m in range(4)]
    ddp = [micro_batch(w, sampler, consumed, m, rank=r, world=2, batch_size=b)[0] for m in range(2) for r in range(2)]
    for x, y in zip(single, ddp):
        assert np.array_equal(x, y)
    x, y = micro_batch(w, sampler, consumed, 0, 0, 1, b)
    assert x.shape == (b, 8) and np.array_equal(x[:, 1:], y[:, :-1])


def test_pretrain_epochs_cover_every_window(tmp_path: Path) -> None:
    write_split(tmp_path, n_seq=12, seq_len=4, seed=6, shards=1)
    w = TokenWindows(tmp_path, 4)
    sampler = Sampler(w.n_windows, seed=1, stream="main")
    n = w.n_windows
    first, second = sampler.window_index(np.arange(n)), sampler.window_index(np.arange(n, 2 * n))
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(n))
    assert not np.array_equal(first, second)  # each epoch is reshuffled
    ev = eval_windows(w, 5, seed=1)
    assert len(set(ev.tolist())) == 5 and np.array_equal(ev, eval_windows(w, 5, seed=1))
