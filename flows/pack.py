"""Stage `pack` (DeepSeek-Coder §3.2): FIM (PSM, rate 0.5) at document level, the code/text mixture of
params, fixed-length token shards for train / val / cooldown; the validation repositories' documents
are also kept as text (data/heldout) for the evaluation's completion and FIM validation.

Phase 1 encodes every data/clean partition (and text source) in a committed partition job; phase 2
plans the mixture from the units' small index files and streams the shards out, bucket by bucket."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect import flow

from flows._runtime import (map_jobs, markdown_table, partition_cache, prune_partitions, publish_markdown,
                            publish_table, run_stage, timed, workers_from_params, write_metrics, write_timings)
from tasks.common.io import atomic_dir, list_shards
from tasks.common.jobs import Job, entry_path, stage_salt
from tasks.common.params import load_params, section

IN_DIR, TOKENIZER, OUT_DIR, HELDOUT_DIR = "data/clean", "models/tokenizer/tokenizer.json", "data/packed", "data/heldout"
STEP, HASH_STEP, DUPS_STEP = "pack-encode", "pack-text-hash", "pack-text-dups"


@flow(name="pack", log_prints=True)
def pack_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    from tasks.pack import config_from_params
    from tasks.pack.encode import encode_job, plan_units
    from tasks.pack.pipeline import finish
    from tasks.pack.split import plan_split
    from tasks.pack.text_screen import count_duplicates

    elapsed = timed()
    params = load_params(params_path)
    raw = section(params, "pack")
    cfg = config_from_params(raw)
    cache = partition_cache(params)
    clean = [str(p) for p in list_shards(IN_DIR)]
    if not clean and not cfg.text_sources:
        raise FileNotFoundError(f"{IN_DIR}: no clean partitions and no text sources to pack")
    split = plan_split(clean, cfg.seed, cfg.val_ratio)
    units = plan_units(clean, cfg)
    salt = stage_salt("pack", {"pack": {k: v for k, v in raw.items() if k != "workers"}, "split": split.describe()})
    screened, screen_runs = screen_text(units, cfg, params, cache, salt)
    with atomic_dir(OUT_DIR) as out, atomic_dir(HELDOUT_DIR) as heldout:
        jobs = []
        for u in units:
            outputs: dict[str, str | None] = {"tokens": None, "index": None}
            inputs: tuple[str, ...] = (u["path"], TOKENIZER)
            extra = u["kind"] if u["kind"] == "clean" else f"text:{u['source']}"
            if u["kind"] == "clean":
                outputs["heldout"] = str(heldout / Path(u["path"]).name)
            elif u.get("screen"):
                sc = u["screen"]
                inputs = (u["path"], sc["hashes"], *sc["drops"], TOKENIZER)
                extra += f":{sc['position']}"
            # keyed by content only (not the unit's position), so inserted partitions leave the others' reused
            jobs.append(Job(STEP, f"unit-{u['index']:05d}", salt, inputs=inputs, outputs=outputs, extra=extra,
                            cache=cache))
        threads = max(1, (os.cpu_count() or 1) // workers_from_params(params))
        encoded = map_jobs(jobs, encode_job, split, cfg, threads, desc="encode", per_job=[(u,) for u in units])
        paths = {u["index"]: (entry_path(STEP, k, "tokens", cache), entry_path(STEP, k, "index", cache))
                 for u, k in zip(units, encoded.keys)}
        metrics = finish(units, encoded.summaries, TOKENIZER, paths, out, cfg, split,
                         previous_dir=OUT_DIR if Path(OUT_DIR).is_dir() else None)  # persists (dvc.yaml)
        metrics["heldout_docs"] = sum(s.get("heldout_docs", 0) for s in encoded.summaries)
        if screened:
            metrics["text_screen"] = count_duplicates(screened, units, encoded.summaries)
    prune_partitions(STEP, encoded, params)
    screen_counts = {}
    for step, run in screen_runs:
        prune_partitions(step, run, params)
        screen_counts.update({f"{step.removeprefix('pack-').replace('-', '_')}_{k}": v for k, v in run.counts().items()})
    run_info = {f"encode_{k}": v for k, v in (metrics.pop("encode", None) or {}).items()}  # varies per run
    write_metrics("pack", metrics)
    write_timings("pack", {"seconds": elapsed(), **run_info, **encoded.counts(), **screen_counts})
    publish_pack_artifacts(metrics)
    return metrics


def screen_text(units: list[dict[str, Any]], cfg: Any, params: dict[str, Any], cache: str | None, salt: str
                ) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Text sources through exact dedup and decontamination before they are encoded
    (tasks/pack/text_screen.py): sets each text unit's `screen` (its hash file, the reducers' drop files, its
    position among the text sources) and returns the per-source counts and the job runs (to prune)."""
    from tasks.pack.text_screen import attach, dup_ranges, dups_job, hash_job, summary

    text = [u for u in units if u["kind"] == "text"]
    ts = cfg.text_screen
    if not text or not (ts.dedup or ts.decontaminate):
        return {}, []
    index_path, min_hits, batch_bytes = None, 1, 4_000_000
    if ts.decontaminate:  # the quality stage's benchmark index and rule (built once, cached by its key)
        from tasks.quality import config_from_params as quality_config
        from tasks.quality.decontam import build_benchmark_index

        qcfg = quality_config({"decontam": section(params, "quality").get("decontam") or {}})
        index_path = str(build_benchmark_index(qcfg, qcfg.decontam.cache_dir))
        min_hits, batch_bytes = qcfg.decontam.min_gram_hits, qcfg.decontam.batch_bytes
    hash_jobs = [Job(HASH_STEP, f"text-{i:05d}", salt, inputs=(u["path"],) + ((index_path,) if index_path else ()),
                     outputs={"hashes": None}, extra=f"text:{u['source']}:{min_hits}", cache=cache)
                 for i, u in enumerate(text)]
    hashed = map_jobs(hash_jobs, hash_job, cfg, index_path, min_hits, batch_bytes, desc="text hash",
                      per_job=[(u,) for u in text])
    hash_paths = [str(entry_path(HASH_STEP, k, "hashes", cache)) for k in hashed.keys]
    runs: list[tuple[str, Any]] = [(HASH_STEP, hashed)]
    drop_paths: list[str] = []
    if ts.dedup:
        ranges = dup_ranges(hashed.summaries)
        dups_jobs = [Job(DUPS_STEP, f"range-{j:05d}", salt, inputs=tuple(hash_paths), outputs={"drops": None},
                         extra=f"{lo}:{hi}", cache=cache) for j, (lo, hi) in enumerate(ranges)]
        dups = map_jobs(dups_jobs, dups_job, desc="text dups", per_job=ranges)
        drop_paths = [str(entry_path(DUPS_STEP, k, "drops", cache)) for k in dups.keys]
        runs.append((DUPS_STEP, dups))
    attach(text, hash_paths, drop_paths)
    return summary(cfg, text, hashed.summaries), runs


def publish_pack_artifacts(metrics: dict[str, Any]) -> None:
    rows = []
    for split, info in sorted((metrics.get("splits") or {}).items()):
        if isinstance(info, dict):
            rows.append({"split": split, **{k: v for k, v in info.items() if not isinstance(v, (dict, list))}})
    publish_table("pack-splits", rows, "Token shards per split")
    publish_markdown("pack-summary", "# Pack\n\n" + markdown_table(rows)
                     + f"\nMixture: `{metrics.get('mixture')}`\n\nFIM: `{metrics.get('fim')}`\n\n"
                     + f"Validation split: `{metrics.get('split')}`\n", "Pack summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(pack_flow))
