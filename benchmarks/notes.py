"""Why a row misses its target and what would reach it: written from profiles of full runs on the
default corpus (2026-11-22, this 2-core machine), shown in RESULTS.md only for rows that miss.
The numbers quoted are from those profiling runs; the figures in the table above are the run's own."""
from __future__ import annotations

MISSED: dict[str, str] = {
    "filter": """
**Why.** The baseline reads and decodes 51 MB in ~0.12 CPU-s (~425 MB/s); the target leaves the whole
stage ~0.16 s. Split of the stage's CPU time (per-shard timing, default corpus): Parquet read ~0.18 s
(zstd decompression: already above the budget; see `ratio_vs_parquet_read_cpu` for the distance to
this IO floor), rules ~0.5 s, writing the kept rows + decisions ~0.45 s (zstd compression of ~40 MB).
Inside the rules, HTML visible-text extraction with the stdlib `html.parser` (pure Python) takes
half (unprofiled) to three quarters (cProfile) of the rule time for 0.8 MB of HTML (1.6% of the
bytes); the line/alpha statistics (numpy over Arrow buffers) take the rest.
`rules_on_files_ratio_cpu` (rules on the plain files, no Parquet) is the rules' own ceiling.

**What would reach it.** (1) A compiled single pass for the statistics (line lengths, alphabetic
share, XML header) over the Arrow UTF-8 buffer, e.g. a small Rust/pyo3 or Cython kernel, or Arrow
compute kernels end to end; (2) a C HTML parser for visible text (selectolax/lxml: ~100x the stdlib
parser); (3) not rewriting content: write only the decisions table and let `order` read data/raw
filtered by it (or write data/filtered with a cheap codec: lz4/none). With (1)-(3) the stage is
bounded by the Parquet read, which alone is ~1.5x the plain-file baseline: 0.75x of read+decode of
plain files is not reachable while the corpus is stored as zstd Parquet.
""",
    "decontamination": """
**Why.** The scan tokenises every byte with whole-array numpy passes: byte classes, word boundaries,
punctuation trimming (`_trim_punctuation`, one pass per trimmed byte position), a uint64 prefix
sum of a per-byte polynomial (multiply + cumsum over 8-byte words: ~16+ bytes of memory traffic
per input byte), token hashes, rolling n-grams, then a bitmap + `searchsorted` lookup. cProfile:
`tokenize_batch` is ~75% of the scan (`_boundaries` ~25%, the prefix sums most of the rest),
lookups ~10%, Parquet read ~10%. At ~20 MB/s the scan costs an order of magnitude more than
reading the same text (~250-310 MB/s).

**What would reach it.** `read + scan <= 2x read` means scanning at the speed of reading (~250-300
MB/s per core): one pass per byte in compiled code (Rust/pyo3 or Cython): classify, hash words as they
end, roll the 10-gram hash, probe the bitmap (in cache: the index has ~1.5M grams), touching each
byte once. Within numpy, hashing per token instead of per byte (8-byte strided word views, as
`tasks/dedup/shingles.py` does) would cut the traffic ~3x but not reach 2x.
""",
    "pretrain": """
**Why.** A CPU training step of the small model (dim 256, 4 layers, 1024 tokens per step) spends
only ~50% of its time in matrix multiplies (torch.profiler: `aten::mm` 51%); the rest is
element-wise work that does no counted FLOPs (RMSNorm, RoPE, SiLU-gate, residual adds, the
AdamW update, log-softmax over the vocabulary). The matmuls themselves run at ~70% of the square
1024x1024 matmul peak (their shapes are thin: 256-wide). 0.7 x 0.5 gives the ~0.3-0.4 MFU
measured. Measured alternatives on this machine (2 threads, same model): fused AdamW: no change;
`torch.compile` (inductor): 0.26 at 128-token sequences (slower: compile overheads and small
kernels), 0.44 at batch 8 x 1024 tokens. bf16: the AMX matmul peak (~0.7-1 TFLOP/s for a
1024x1024 product) is far beyond what 256-wide matmuls and autocast casts reach, so bf16 MFU is a
few percent, and a bf16 step is not faster than an fp32 one at these shapes.

**What would reach it.** Matmul-dominated shapes: model width >= 1024 and >= 4096 tokens per
micro-batch (the 1.3B config's shapes), fused element-wise kernels (compile, fused RMSNorm/SwiGLU/
RoPE), and a fused optimizer; on CPU that is not a 5M-parameter model on 2 shared cores. The
0.70 target is realistic for the GPU path (bf16 on tensor cores, datasheet peak), not here.
""",
    "pack": """
**Why / where the time goes.** `encode_units_ratio_cpu` is phase 1 alone (Parquet read, FIM
transform, encode, id conversion, writing token files): the distance between it and the full
stage is the mixture + sequence-shard phase. Tokenization (`encode_batch_fast`) is the bulk of
both; per-document Python work (FIM split, `split_long`, list concatenation of ids) is the rest.

**What would reach it.** Convert ids with `np.concatenate` of `Encoding.ids` arrays per batch
instead of Python list concatenation, and skip `split_long` for documents below the piece size.
""",
    "evaluate": """
**Why.** Both sides run the same programs with the same number of workers; looping completions
hit the timeout on both sides, so the wall time is dominated by timeouts when few samples are run.
Our runner forks each program from a warm fork server, in its own namespaces and uid, with an
audit hook: the sandbox set-up is the per-program overhead.
""",
}
