"""The whole stage as one plain function (no Prefect, no DVC): seeds -> teacher -> checks -> files.

`flows/oss_instruct.py` calls `generate` (or `write_disabled` when no teacher is configured) inside
an `atomic_dir`, so a killed run leaves the previous dataset in place; the answers it already got
stay in the response cache and the rerun does not ask for them again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tasks.oss_instruct.build import (Asked, Built, ask_teacher, build, disabled_metrics, metrics, run_report,
                                      write_dataset)
from tasks.oss_instruct.config import Config
from tasks.oss_instruct.seeds import draw_seeds
from tasks.oss_instruct.teacher import ResponseCache, TeacherClient

log = logging.getLogger("coder_pipeline.oss_instruct")


@dataclass
class StageResult:
    metrics: dict[str, Any]  # deterministic: metrics/oss_instruct.json
    run: dict[str, Any]  # what this run spent: requests, retries, cache hits, tokens, cost
    built: Built | None


def write_disabled(out_dir: str | Path) -> StageResult:
    """No teacher configured: an empty dataset, and metrics that say the stage was off."""
    write_dataset(out_dir, [], [])
    return StageResult(disabled_metrics(), {}, None)


def generate(cfg: Config, clean_dir: str | Path, out_dir: str | Path, *, api_key: str | None = None,
             quality_cfg: Any | None = None, on_answer: Callable[[Asked], None] | None = None,
             client_kwargs: dict[str, Any] | None = None) -> StageResult:
    """Draw seeds, ask the teacher through the cache, screen the answers, write the dataset to `out_dir`.

    `quality_cfg` (a `tasks.quality.Config`) supplies the decontamination settings and benchmark
    list; None skips decontamination. `client_kwargs` go to `TeacherClient` (tests pass sleep/clock).
    """
    seeds, seed_counts = draw_seeds(clean_dir, cfg.quotas, cfg.seed, cfg.min_lines, cfg.max_lines)
    log.info("oss_instruct: %d seeds drawn (%s)", len(seeds),
             ", ".join(f"{k} {v['drawn']}/{v['quota']}" for k, v in seed_counts.items()))
    index, min_hits, batch_bytes = None, 1, 4_000_000
    if cfg.decontaminate and quality_cfg is not None:
        from tasks.quality.decontam import build_benchmark_index, load_index

        dc = quality_cfg.decontam
        index = load_index(build_benchmark_index(quality_cfg, dc.cache_dir))
        min_hits, batch_bytes = dc.min_gram_hits, dc.batch_bytes
    with TeacherClient(cfg.teacher, ResponseCache(cfg.cache_dir), api_key=api_key, seed=cfg.seed,
                       **(client_kwargs or {})) as client:
        try:
            asked = ask_teacher(seeds, cfg, client, on_answer)
        finally:
            log.info("oss_instruct: teacher calls this run: %s", client.counters.to_dict())
        built = build(asked, cfg, index, min_hits, batch_bytes)
        write_dataset(out_dir, built.items, built.drops)
        return StageResult(metrics(cfg, seed_counts, asked, built), run_report(cfg, client), built)
