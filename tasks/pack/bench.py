"""Throughput of phase 1 (`encode_unit`) against bare `encode_batch_fast` on the same documents.

    python -m tasks.pack.bench CLEAN_DIR TOKENIZER_JSON [--repeat 3] [--batch-size 128]

Both sides run in this process with the same rayon thread pool; the baseline times only the
`encode_batch_fast` calls on the documents' texts (reading Parquet excluded), while `encode_unit` is
timed end to end (Parquet read, FIM, encode, id conversion, writing). Best of `--repeat` runs each,
interleaved, because the machine is shared; CPU time (all threads of the process) is reported beside
wall time as the fairer measure on a loaded machine. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

import pyarrow.parquet as pq
from tokenizers import Tokenizer

from tasks.common.io import list_shards
from tasks.pack.config import Config
from tasks.pack.encode import encode_unit, plan_units


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()  # wall, CPU of all threads


def baseline_seconds(tok: Tokenizer, shards: list[str], batch_size: int) -> tuple[float, float, int]:
    wall = cpu = 0.0
    tokens = 0
    for path in shards:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=["text"]):
            texts = [t for t in batch.column(0).to_pylist() if t]
            w0, c0 = _clock()
            encs = tok.encode_batch_fast(texts, add_special_tokens=False)
            w1, c1 = _clock()
            wall += w1 - w0
            cpu += c1 - c0
            tokens += sum(len(e) for e in encs)
    return wall, cpu, tokens


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("clean_dir")
    ap.add_argument("tokenizer")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=Config.batch_size)
    args = ap.parse_args(argv)
    cfg = Config(batch_size=args.batch_size)
    shards = [str(p) for p in list_shards(args.clean_dir)]
    units = plan_units(shards, cfg)
    tok = Tokenizer.from_file(args.tokenizer)
    base_w, base_c, ours_w, ours_c = [], [], [], []
    for _ in range(args.repeat):
        bw, bc, base_tokens = baseline_seconds(tok, shards, args.batch_size)
        base_w.append(bw); base_c.append(bc)
        with tempfile.TemporaryDirectory() as work:
            w0, c0 = _clock()
            stats = [encode_unit(u, args.tokenizer, work, cfg) for u in units]
            w1, c1 = _clock()
            ours_w.append(w1 - w0); ours_c.append(c1 - c0)
    in_bytes = sum(s["bytes"] for s in stats)
    result = {
        "docs": sum(s["docs"] for s in stats), "bytes": in_bytes,
        "baseline_wall_s": round(min(base_w), 3), "encode_unit_wall_s": round(min(ours_w), 3),
        "baseline_cpu_s": round(min(base_c), 3), "encode_unit_cpu_s": round(min(ours_c), 3),
        "baseline_MB_per_cpu_s": round(in_bytes / min(base_c) / 1e6, 3),
        "encode_unit_MB_per_cpu_s": round(in_bytes / min(ours_c) / 1e6, 3),
        "ratio_wall": round(min(base_w) / min(ours_w), 3),
        "ratio_cpu": round(min(base_c) / min(ours_c), 3), "baseline_tokens": base_tokens,
        "packed_tokens": sum(s["tokens"] for s in stats),
        "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
