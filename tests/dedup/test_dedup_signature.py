from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash

from tasks.dedup.signature import (_BLOCK_ROWS, estimate_jaccard, minhash_values, pack, permutations, signature,
                                   to_lean, unpack_many)


@pytest.mark.parametrize("n", [0, 1, 7, _BLOCK_ROWS - 1, _BLOCK_ROWS, _BLOCK_ROWS + 1, 3 * _BLOCK_ROWS + 5])
def test_vectorised_minhash_equals_datasketch_update_batch(n):
    rng = np.random.default_rng(n)
    h32 = rng.integers(0, 2**32, n, dtype=np.uint32)
    reference = MinHash(num_perm=64, seed=11, hashfunc=lambda v: v)
    reference.update_batch([int(v) for v in h32])
    ours = minhash_values(h32, permutations(64, 11))
    assert ours.dtype == reference.hashvalues.dtype
    assert np.array_equal(ours, reference.hashvalues)


def test_seed_changes_permutations():
    shingles = np.arange(1, 500, dtype=np.uint64) << np.uint64(33)
    assert not np.array_equal(signature(shingles, 32, 1), signature(shingles, 32, 2))


def test_lean_minhash_jaccard_tracks_exact_jaccard():
    rng = np.random.default_rng(5)
    universe = np.unique(rng.integers(0, 2**64, 6000, dtype=np.uint64))
    a, b = universe[:4000], universe[1000:5000]          # Jaccard 3000 / 5000 = 0.6
    sa, sb = signature(np.sort(a), 256, 42), signature(np.sort(b), 256, 42)
    est = to_lean(sa, 42).jaccard(to_lean(sb, 42))
    assert est == pytest.approx(float(estimate_jaccard(sa, sb)))
    assert abs(est - 0.6) < 0.1


def test_pack_roundtrip():
    rng = np.random.default_rng(1)
    sigs = rng.integers(0, 2**32, (3, 16), dtype=np.uint32)
    blobs = [pack(s) for s in sigs]
    assert all(len(b) == 64 for b in blobs)
    assert np.array_equal(unpack_many(blobs, 16), sigs)
