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
STEP = "pack-encode"


@flow(name="pack", log_prints=True)
def pack_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    from tasks.pack import config_from_params
    from tasks.pack.encode import encode_job, plan_units
    from tasks.pack.pipeline import finish
    from tasks.pack.split import plan_split

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
    with atomic_dir(OUT_DIR) as out, atomic_dir(HELDOUT_DIR) as heldout:
        jobs = []
        for u in units:
            outputs: dict[str, str | None] = {"tokens": None, "index": None}
            if u["kind"] == "clean":
                outputs["heldout"] = str(heldout / Path(u["path"]).name)
            # keyed by content only (not the unit's position), so inserted partitions leave the others' reused
            jobs.append(Job(STEP, f"unit-{u['index']:05d}", salt, inputs=(u["path"], TOKENIZER), outputs=outputs,
                            extra=u["kind"] if u["kind"] == "clean" else f"text:{u['source']}", cache=cache))
        threads = max(1, (os.cpu_count() or 1) // workers_from_params(params))
        encoded = map_jobs(jobs, encode_job, split, cfg, threads, desc="encode", per_job=[(u,) for u in units])
        paths = {u["index"]: (entry_path(STEP, k, "tokens", cache), entry_path(STEP, k, "index", cache))
                 for u, k in zip(units, encoded.keys)}
        metrics = finish(units, encoded.summaries, TOKENIZER, paths, out, cfg, split,
                         previous_dir=OUT_DIR if Path(OUT_DIR).is_dir() else None)  # persists (dvc.yaml)
        metrics["heldout_docs"] = sum(s.get("heldout_docs", 0) for s in encoded.summaries)
    prune_partitions(STEP, encoded, params)
    run_info = {f"encode_{k}": v for k, v in (metrics.pop("encode", None) or {}).items()}  # varies per run
    write_metrics("pack", metrics)
    write_timings("pack", {"seconds": elapsed(), **run_info, **encoded.counts()})
    publish_pack_artifacts(metrics)
    return metrics


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
