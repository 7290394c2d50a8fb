"""sft stage: instruction-tune the pretrained model on OSS-Instruct rows (Magicoder, arXiv 2312.02120) in
DeepSeek-Coder-Instruct's format and schedule (DeepSeek-Coder §3.5), then evaluate it with the
`evaluate` stage's harness next to the base model.

`config_from_params(section) -> SftConfig`; `train(cfg, instruct_path, tokenizer_path, out_dir, live_dir)`
tunes (or resumes) into pretrain's checkpoint layout, which `tasks.pretrain.export_hf` exports;
`aggregate` shapes metrics/sft.json; `skipped_metrics` / `write_skipped` are the off-by-default path
(no teacher configured for oss_instruct -> an empty instruct.jsonl).
"""
from __future__ import annotations

from typing import Any

from tasks.common.io import atomic_write_json
from tasks.sft.config import SftConfig, config_from_params, eval_settings

Config = SftConfig  # the name every stage package exposes

__all__ = ["Config", "SftConfig", "aggregate", "comparison", "config_from_params", "eval_settings", "skipped_metrics",
           "train", "write_skipped", "HOW_TO_ENABLE"]

HOW_TO_ENABLE = ("Instruction tuning runs when data/instruct/instruct.jsonl has rows: configure the teacher "
                 "endpoint of the `oss_instruct` stage (CODER_PIPELINE_TEACHER_BASE_URL, or oss_instruct.teacher.base_url "
                 "and model in params.yaml; README, 'Instruction data (OSS-Instruct)'), then `dvc repro sft` "
                 "generates the data and tunes models/export on it.")


def train(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See tasks.sft.train.train (imported lazily: torch is heavy)."""
    from tasks.sft.train import train as _train

    return _train(*args, **kwargs)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def comparison(sft_summary: dict[str, Any], base_summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per headline metric of the tuned model: base value, tuned value, difference."""
    base_summary = base_summary or {}
    rows = []
    for key in sorted(sft_summary):
        tuned, base = sft_summary[key], base_summary.get(key)
        delta = tuned - base if isinstance(tuned, (int, float)) and isinstance(base, (int, float)) else None
        rows.append({"metric": key, "base": base, "sft": tuned, "delta": delta})
    return _clean(rows)


def aggregate(run: dict[str, Any], export_summary: dict[str, Any], eval_metrics: dict[str, Any],
              base_eval: dict[str, Any] | None, eval_overrides: dict[str, Any]) -> dict[str, Any]:
    """metrics/sft.json: training summary, export, and eval scores next to the base model's.
    Run-dependent figures (wall time, throughput) are left out: they go to reports/timings."""
    keep = {k: v for k, v in run.items() if k not in ("wall_time_s", "tokens_per_s", "resumed_from_step")}
    base_summary = (base_eval or {}).get("summary")
    return _clean({
        "enabled": True,
        **keep,
        "export": {k: v for k, v in export_summary.items() if k != "checkpoint"},
        "eval": {
            "sft": eval_metrics.get("summary", {}),
            "base": base_summary,
            "comparison": comparison(eval_metrics.get("summary", {}), base_summary),
            "benchmarks": eval_metrics.get("benchmarks", {}),
            "errors": eval_metrics.get("errors", []),
            "skipped": eval_metrics.get("skipped", []),
            "overrides": eval_overrides,
        },
    })


def skipped_metrics(reason: str) -> dict[str, Any]:
    return {"enabled": False, "reason": reason, "how_to_enable": HOW_TO_ENABLE}


def write_skipped(out_dir: Any, reason: str) -> None:
    """The marker that stands in for the tuned model when there is nothing to tune on."""
    from pathlib import Path

    atomic_write_json(Path(out_dir) / "SKIPPED.json", {"skipped": True, "reason": reason, "how_to_enable": HOW_TO_ENABLE})
