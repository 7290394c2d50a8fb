"""Pluggable learned quality model (off by default: `quality.scorer.enabled: false`).

`QualityScorer` is the interface the stage needs: fit on labelled texts (1 = keep-worthy, 0 = not),
score one text as a probability of being good, save/load to one file. `HashedNgramLogReg` is a
fastText-style implementation in numpy: hashed unigram+bigram features (the stable n-gram hashes
of `ngrams.py`), log-count weights, L2-normalised rows, logistic regression trained by full-batch
gradient descent from zeros - no randomness, so the same data gives the same model bytes.

Other scorers register in `SCORERS` under a `kind` stored in their file; `load_scorer(path)` picks
the class from it.
"""
from __future__ import annotations

import os
from typing import ClassVar, Protocol, Sequence, runtime_checkable

import numpy as np

from tasks.quality.arrays import load_arrays, save_arrays
from tasks.quality.ngrams import rolling_grams, tokenize_batch


@runtime_checkable
class QualityScorer(Protocol):
    kind: ClassVar[str]

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> "QualityScorer": ...

    def score(self, text: str) -> float: ...

    def save(self, path: str | os.PathLike) -> None: ...

    @classmethod
    def load(cls, path: str | os.PathLike) -> "QualityScorer": ...


class HashedNgramLogReg:
    """Logistic regression over hashed token n-grams (n = 1..max_n)."""

    kind: ClassVar[str] = "hashed_ngram_logreg"
    _PARAMS = ("dim_bits", "max_n", "epochs", "lr", "l2", "max_chars", "unit")

    def __init__(self, dim_bits: int = 18, max_n: int = 2, epochs: int = 300, lr: float = 2.0,
                 l2: float = 1e-4, max_chars: int = 100_000, unit: str = "token") -> None:
        self.dim_bits, self.max_n, self.epochs, self.lr, self.l2 = dim_bits, max_n, epochs, lr, l2
        self.max_chars, self.unit = max_chars, unit
        self.weights = np.zeros(1 << dim_bits, dtype=np.float64)
        self.bias = 0.0

    def _features(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR rows (indptr, indices, values) of log-count features, each row L2-normalised."""
        batch = tokenize_batch([t[: self.max_chars] for t in texts], self.unit, lowercase=True)
        grams = rolling_grams(batch, range(1, self.max_n + 1))
        mask = np.uint64((1 << self.dim_bits) - 1)
        feats = np.concatenate([g & mask for g, _, _ in grams.values()]).astype(np.int64)
        rows = np.concatenate([o for _, o, _ in grams.values()])
        uniq, counts = np.unique(rows * (1 << self.dim_bits) + feats, return_counts=True)
        row_of = uniq >> self.dim_bits
        indices = uniq & ((1 << self.dim_bits) - 1)
        values = np.log1p(counts.astype(np.float64))
        norms = np.sqrt(np.bincount(row_of, weights=values * values, minlength=len(texts)))
        values = values / np.where(norms > 0, norms, 1.0)[row_of]
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of, minlength=len(texts)), out=indptr[1:])
        return indptr, indices, values

    @staticmethod
    def _dot(w: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        sums = np.concatenate(([0.0], np.cumsum(w[indices] * values)))
        return sums[indptr[1:]] - sums[indptr[:-1]]

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> "HashedNgramLogReg":
        y = np.asarray(labels, dtype=np.float64)
        if y.shape != (len(texts),) or not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("labels must be 0/1, one per text")
        indptr, indices, values = self._features(texts)
        n, dim = len(texts), 1 << self.dim_bits
        lengths = np.diff(indptr)
        w = np.zeros(dim, dtype=np.float64)
        b = 0.0
        for _ in range(self.epochs):
            p = 1.0 / (1.0 + np.exp(-(self._dot(w, indptr, indices, values) + b)))
            r = (p - y) / n
            grad = np.bincount(indices, weights=values * np.repeat(r, lengths), minlength=dim)
            w -= self.lr * (grad + self.l2 * w)
            b -= self.lr * float(r.sum())
        self.weights, self.bias = w, b
        return self

    def score_many(self, texts: Sequence[str]) -> np.ndarray:
        indptr, indices, values = self._features(texts)
        z = self._dot(self.weights, indptr, indices, values) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, text: str) -> float:
        return float(self.score_many([text])[0])

    def save(self, path: str | os.PathLike) -> None:
        meta = {k: getattr(self, k) for k in self._PARAMS}
        meta.update(kind=self.kind, bias=self.bias)
        save_arrays(path, {"weights": self.weights.astype(np.float32)}, meta)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "HashedNgramLogReg":
        arrays, meta = load_arrays(path, mmap=False)
        model = cls(**{k: meta[k] for k in cls._PARAMS})
        model.weights = arrays["weights"].astype(np.float64)
        model.bias = float(meta["bias"])
        return model


SCORERS: dict[str, type] = {HashedNgramLogReg.kind: HashedNgramLogReg}


def load_scorer(path: str | os.PathLike) -> QualityScorer:
    """Load any registered scorer from its file (the `kind` in its metadata picks the class)."""
    _, meta = load_arrays(path, mmap=False)
    kind = meta.get("kind")
    if kind not in SCORERS:
        raise ValueError(f"{path}: unknown scorer kind {kind!r}")
    return SCORERS[kind].load(path)
