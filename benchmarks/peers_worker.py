"""Peer MinHash implementations, run by the peers venv's interpreter (not a project dependency).

    .venv-peers/bin/python benchmarks/peers_worker.py SPEC.json   # {"case": ..., "args": {...}}

Stand-alone on purpose: it imports only the standard library, numpy, pyarrow, datatrove and rensa,
never `tasks` or `benchmarks`. Input: the (repo, text) Parquet file of the harness; only the
shingling + signature work is timed. Prints `BENCH-RESULT {json}` as its last line.

Work-arounds (also listed in results.json):
- datatrove's MinhashDedupSignature loads an NLTK/spaCy word tokenizer by language; we pass a
  whitespace `WordTokenizer` instead (the same token definition as ours: str.split()).
- its get_signature builds a (shingles x hashes) uint64 matrix in one go (GBs for a whole
  repository at 256 hashes); we feed it blocks of 8192 shingles and take the element-wise minimum,
  which gives the same signature.
- datatrove needs xxhash < 4 (installed so in the peers venv).
"""
from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MARK = "BENCH-RESULT "
BLOCK = 8192


def _texts(path: str) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=["text"]).column("text").to_pylist()


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def datatrove_signatures(texts_path: str, shingle_size: int, num_perm: int, hashes_per_bucket: int = 8
                         ) -> dict[str, Any]:
    import numpy as np
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.utils.word_tokenizers import WordTokenizer

    class Whitespace(WordTokenizer):
        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return text.splitlines()

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            raise NotImplementedError

    if num_perm % hashes_per_bucket:
        raise ValueError(f"num_perm {num_perm} is not a multiple of hashes_per_bucket {hashes_per_bucket}")
    texts = _texts(texts_path)
    cfg = MinhashConfig(n_grams=shingle_size, num_buckets=num_perm // hashes_per_bucket,
                        hashes_per_bucket=hashes_per_bucket)
    with tempfile.TemporaryDirectory() as out:
        step = MinhashDedupSignature(output_folder=out, config=cfg, language=Whitespace())
        step.parameters  # noqa: B018  (hash parameters drawn once, outside the timing)
        shingles = 0
        w0, c0 = _clock()
        for text in texts:
            sh = step.get_shingles(text)
            shingles += len(sh)
            if not len(sh):
                continue
            sig = None
            for start in range(0, len(sh), BLOCK):
                part = np.asarray(step.get_signature(sh[start:start + BLOCK]), dtype=np.uint64)
                sig = part if sig is None else np.minimum(sig, part)
        w1, c1 = _clock()
    return {"wall_s": w1 - w0, "cpu_s": c1 - c0, "docs": len(texts), "shingles": shingles,
            "num_perm": cfg.num_buckets * cfg.hashes_per_bucket, "hash_precision": cfg.hash_config.precision}


def rensa_signatures(texts_path: str, shingle_size: int, num_perm: int, seed: int, words_only: bool = False
                     ) -> dict[str, Any]:
    from rensa import RMinHash

    texts = _texts(texts_path)
    n = shingle_size
    shingles = 0
    w0, c0 = _clock()
    for text in texts:
        words = text.split()
        items = words if words_only else [" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))]
        shingles += len(items)
        m = RMinHash(num_perm=num_perm, seed=seed)
        m.update(items)
        m.digest()
    w1, c1 = _clock()
    return {"wall_s": w1 - w0, "cpu_s": c1 - c0, "docs": len(texts), "shingles": shingles, "num_perm": num_perm}


def versions() -> dict[str, Any]:
    from importlib.metadata import version

    return {"wall_s": 0.0, "cpu_s": 0.0, "versions": {name: version(name) for name in
                                                      ("datatrove", "rensa", "xxhash", "numpy", "pyarrow")}}


CASES = {"datatrove_signatures": datatrove_signatures, "rensa_signatures": rensa_signatures, "versions": versions}


def peak_rss_mb() -> float:
    """VmHWM of this process (see benchmarks.worker.peak_rss_mb)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = CASES[spec["case"]](**spec.get("args", {}))
    result["peak_rss_mb"] = peak_rss_mb()
    print(MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
