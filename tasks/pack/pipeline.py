"""The pack stage: clean partitions (+ optional text corpora) -> data/packed/{train,val,cooldown}/.

    split = plan_split(clean partitions, seed, val_ratio)      # one pass over repo ids
    units = plan_units(...)                                    # one per clean partition / text file
    stats = [encode_unit(u, tok, tokens, index, split, cfg)]   # phase 1: partition jobs, in parallel
    metrics = finish(units, stats, tok, unit_paths, out, cfg, split)   # mixture plan + streaming assembly

`pack()` runs all of it here (tests, benchmarks); flows/pack.py runs phase 1 as committed partition
jobs on the task runner. Output bytes are identical for any worker count: each unit's files depend
only on its input, and phase 2 reads them in a fixed order.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from tasks.common.hashing import sha256_hex
from tasks.common.io import atomic_dir, list_shards
from tasks.common.jobs import link_output
from tasks.pack.assemble import order_salt, write_split
from tasks.pack.config import SOURCES, Config
from tasks.pack.encode import SPLITS, encode_unit, load_tokenizer, plan_units, unit_files
from tasks.pack.format import dtype_for_vocab, write_header
from tasks.pack.mixture import copies, plan_mixture
from tasks.pack.text_screen import count_duplicates, screen_locally
from tasks.pack.split import SplitPlan, plan_split
from tasks.tokenizer.special import special_ids

WORK_DIR = ".work"


def _init_worker(threads: int) -> None:
    # Before the first encode in this process: rayon reads it when it builds its pool. Keeps
    # workers x threads at the core count instead of workers x cores.
    os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")


def run_units(units: list[dict[str, Any]], tokenizer_path: str, work_dir: str, split: SplitPlan, cfg: Config,
              workers: int) -> list[dict[str, Any]]:
    args = [(u, tokenizer_path, *unit_files(work_dir, u["index"]), split, cfg) for u in units]
    if workers <= 1 or len(units) <= 1:
        return [encode_unit(*a) for a in args]
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # no fork after tokenizers/pyarrow threads exist
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(encode_unit, *a) for a in args]
        return [f.result() for f in futures]


PACKED_DOCS = "packed_docs.npy"  # sorted ids (did) of every document in train/val: what an append skips


def _previous(previous_dir: Path | None, cfg: Config, tokenizer_sha: str, dtype: np.dtype) -> tuple[dict, str]:
    """(the headers of an earlier night's train/val to append to, or {}; why not when not)."""
    if not cfg.append:
        return {}, "pack.append is off: every split rebuilt"
    if previous_dir is None or not (previous_dir / PACKED_DOCS).is_file():
        return {}, "nothing packed before: first build"
    headers = {}
    for split in SPLITS:
        try:
            headers[split] = json.loads((previous_dir / split / "header.json").read_text())
        except (OSError, ValueError):
            return {}, f"{previous_dir / split}: no readable header: rebuilt"
        h = headers[split]
        for key, want in (("tokenizer_sha256", tokenizer_sha), ("seq_len", cfg.seq_len), ("dtype", dtype.name),
                          ("seed", cfg.seed), ("fim_rate", cfg.fim_rate), ("add_bos", cfg.add_bos)):
            if h.get(key) != want:
                return {}, f"{split}: {key} changed ({h.get(key)!r} -> {want!r}): rebuilt"
    return headers, "appended"


def _in_sorted(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return sorted_ids[pos] == values


def finish(units: list[dict[str, Any]], unit_stats: list[dict[str, Any]], tokenizer_path: str,
           paths: dict[int, tuple[Path, Path]], out_dir: str | os.PathLike, cfg: Config,
           split_plan: SplitPlan, previous_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Plan the mixtures from the encoded units and write train/val(/cooldown) under out_dir.

    `paths[unit index]` = (token file, index file) of each encoded unit. With `pack.append` and an
    earlier night's data/packed in `previous_dir`, train and val keep their shards and gain new ones made
    of the documents not packed before (planned on their own); the cool-down split is rebuilt."""
    tok = load_tokenizer(str(tokenizer_path))
    vocab = tok.get_vocab_size()
    dtype = dtype_for_vocab(vocab)
    n_buckets = max(1, sum(u["kind"] == "clean" for u in units))
    tokenizer_sha = sha256_hex(Path(tokenizer_path).read_bytes())
    previous, append_note = _previous(Path(previous_dir) if previous_dir else None, cfg, tokenizer_sha, dtype)
    packed = np.load(Path(previous_dir) / PACKED_DOCS, mmap_mode="r") if previous else np.zeros(0, np.uint64)
    for split, header in previous.items():  # the earlier shards stay as they are, in the new output
        (Path(out_dir) / split).mkdir(parents=True, exist_ok=True)
        for shard in header["shards"]:
            link_output(Path(previous_dir) / split / shard["file"], Path(out_dir) / split / shard["file"])

    def fresh(ix: np.ndarray) -> np.ndarray:
        return ~_in_sorted(ix["did"], packed) if previous else np.ones(len(ix), dtype=bool)

    def load_index(ui: int) -> np.ndarray:
        return np.load(paths[ui][1], mmap_mode="r")

    def load_tokens(ui: int) -> np.ndarray:
        p = paths[ui][0]
        if p.stat().st_size == 0:
            return np.zeros(0, dtype=dtype)
        return np.memmap(p, dtype=dtype.newbyteorder("<"), mode="r")

    def loader():
        return (load_index(u["index"]) for u in units)

    plans: dict[str, dict[str, Any]] = {}
    for si, split in enumerate(SPLITS):
        plans[split] = plan_mixture(loader, lambda ix, si=si: (ix["split"] == si) & fresh(ix), "mix", cfg.mixture,
                                    None)
    common = {
        "special_ids": special_ids(tok).as_dict(), "add_bos": cfg.add_bos,
        "tokenizer_sha256": tokenizer_sha, "seed": cfg.seed,
        "fim_rate": cfg.fim_rate, "fim_spm_rate": cfg.fim_spm_rate, "val_ratio": cfg.val_ratio,
    }
    headers: dict[str, dict[str, Any]] = {}
    for si, split in enumerate(SPLITS):
        plan = plans[split]
        headers[split] = write_split(
            Path(out_dir) / split, units=units, load_index=load_index, load_tokens=load_tokens,
            n_buckets=n_buckets,
            copies_of=lambda ix, si=si, plan=plan: copies(ix, "mix", plan["sources"]) * (ix["split"] == si) * fresh(ix),
            seq_len=cfg.seq_len, dtype=dtype, shard_tokens=cfg.shard_tokens, salt=order_salt(cfg.seed, split),
            mixture_plan=plan, header_extra={**common, "split": split}, vocab_size=vocab,
            previous=previous.get(split))
    if cfg.cooldown.enabled:
        train_tokens = sum(headers["train"]["tokens_by_source"].values())
        pool = lambda ix: (ix["split"] == 0) & (ix["hq"] == 1)  # noqa: E731
        plan = plan_mixture(loader, pool, "cool", cfg.cooldown.mixture, int(round(cfg.cooldown.fraction * train_tokens)))
        plans["cooldown"] = plan
        headers["cooldown"] = write_split(
            Path(out_dir) / "cooldown", units=units, load_index=load_index, load_tokens=load_tokens,
            n_buckets=n_buckets,
            copies_of=lambda ix: copies(ix, "cool", plan["sources"]) * pool(ix),
            seq_len=cfg.seq_len, dtype=dtype, shard_tokens=cfg.shard_tokens, salt=order_salt(cfg.seed, "cooldown"),
            mixture_plan=plan, header_extra={**common, "split": "cooldown",
                                             "cooldown": {"languages": list(cfg.cooldown.languages),
                                                          "repos": list(cfg.cooldown.repos),
                                                          "fraction": cfg.cooldown.fraction}},
            vocab_size=vocab)
    new_docs = _write_packed_docs(units, load_index, plans, packed, Path(out_dir) / PACKED_DOCS)
    _write_newest(Path(out_dir), headers["train"], dtype, cfg.seq_len, vocab)
    metrics = aggregate(unit_stats, headers)
    metrics["split"] = split_plan.describe()
    metrics["append"] = {"enabled": cfg.append, "result": append_note, "new_documents": new_docs,
                         "documents_packed_before": int(len(packed))}
    return metrics


NEWEST = "train_new"  # the train shards this run added: what continual pretraining reads (pretrain.continual)


def _write_newest(out_dir: Path, train: dict[str, Any], dtype: np.dtype, seq_len: int, vocab: int) -> None:
    """A split of the train shards this run wrote (all of them on a rebuild, the appended ones otherwise)."""
    newest = set(train["appends"][-1]["shards"])
    entries = [s for s in train["shards"] if s["file"] in newest]
    (out_dir / NEWEST).mkdir(parents=True, exist_ok=True)
    for s in entries:
        link_output(out_dir / "train" / s["file"], out_dir / NEWEST / s["file"])
    write_header(out_dir / NEWEST, dtype=dtype, seq_len=seq_len, vocab_size=vocab, shards=entries,
                 split=NEWEST, of="train")


def _write_packed_docs(units: list[dict[str, Any]], load_index: Any, plans: dict[str, Any], packed: np.ndarray,
                       path: Path) -> int:
    """Union of the earlier packed ids and the documents that got copies in train/val this time; the
    number of new ones. (8 bytes per document: the one index an append needs.)"""
    ids = [np.asarray(packed)]
    for u in units:
        ix = load_index(u["index"])
        got = np.zeros(len(ix), dtype=bool)
        for si, split in enumerate(SPLITS):
            got |= (copies(ix, "mix", plans[split]["sources"]) > 0) & (ix["split"] == si)
        ids.append(ix["did"][got])
    merged = np.unique(np.concatenate(ids).astype(np.uint64))
    with open(path, "wb") as fh:
        np.save(fh, merged)
    return int(len(merged) - len(packed))


def aggregate(unit_stats: list[dict[str, Any]], headers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """metrics/pack.json: input counts (per split and source, before mixture sampling), and per
    written split: sequences, tokens, achieved vs requested mixture, FIM counts."""
    skipped: dict[str, int] = {}
    inp: dict[str, Any] = {split: {"docs": {s: 0 for s in SOURCES}, "tokens": {s: 0 for s in SOURCES},
                                   "fim": {"plain": 0, "psm": 0, "spm": 0}} for split in SPLITS}
    for st in unit_stats:
        for reason, n in st["skipped"].items():
            skipped[reason] = skipped.get(reason, 0) + n
        for split in SPLITS:
            for key in ("docs", "tokens", "fim"):
                for k, v in st["by_split"][split][key].items():
                    inp[split][key][k] += v
    enc_s = sum(st["encode_seconds"] for st in unit_stats)
    tokens = sum(st["tokens"] for st in unit_stats)
    out: dict[str, Any] = {
        "input": {"units": len(unit_stats), "docs": sum(st["docs"] for st in unit_stats),
                  "bytes": sum(st["bytes"] for st in unit_stats), "tokens": tokens,
                  "skipped": dict(sorted(skipped.items())), **inp},
        "encode": {"seconds": round(enc_s, 3), "tokens_per_second": round(tokens / enc_s, 1) if enc_s else None},
        "splits": {},
    }
    for split, h in headers.items():
        out["splits"][split] = {
            "sequences": h["n_sequences"], "tokens": h["n_tokens"], "documents": h["documents"],
            "documents_by_source": h["documents_by_source"],
            "tokens_by_source": h["tokens_by_source"], "tail_tokens_dropped": h["tail_tokens_dropped"],
            "mixture": h["mixture"], "fim": h["fim"], "shards": len(h["shards"]),
        }
    first = next(iter(headers.values()), {})
    out["dtype"] = first.get("dtype")
    out["seq_len"] = first.get("seq_len")
    out["vocab_size"] = first.get("vocab_size")
    return out


def pack(clean_dir: str | os.PathLike, tokenizer_path: str | os.PathLike, out_dir: str | os.PathLike,
         cfg: Config, workers: int | None = None, decontam_index: str | None = None,
         min_gram_hits: int = 1) -> dict[str, Any]:
    """The whole stage. `workers` (default cfg.workers) processes encode the units in parallel; the
    output replaces out_dir atomically (train/, val/, cooldown/ with header.json each). Text sources are
    screened first (tasks/pack/text_screen.py): exact dedup, and decontamination when `decontam_index` (a
    quality benchmark index) is given."""
    workers = cfg.workers if workers is None else workers
    t0 = time.perf_counter()
    clean = [str(p) for p in list_shards(clean_dir)]
    if not clean and not cfg.text_sources:
        raise FileNotFoundError(f"{clean_dir}: no clean shards and no text sources to pack")
    units = plan_units(clean, cfg)
    split = plan_split(clean, cfg.seed, cfg.val_ratio)
    with atomic_dir(out_dir) as building:
        work = building / WORK_DIR
        work.mkdir()
        screened = screen_locally(units, cfg, work, decontam_index, min_gram_hits)
        stats = run_units(units, str(tokenizer_path), str(work), split, cfg, workers)
        paths = {u["index"]: unit_files(work, u["index"]) for u in units}
        metrics = finish(units, stats, str(tokenizer_path), paths, building, cfg, split,
                         previous_dir=out_dir if Path(out_dir).is_dir() else None)
        if screened:
            metrics["text_screen"] = count_duplicates(screened, units, stats)
        shutil.rmtree(work)
    metrics["seconds"] = round(time.perf_counter() - t0, 3)
    metrics["workers"] = workers
    return metrics
