"""pretrain stage (DeepSeek-Coder §3.3-3.5): a Llama-architecture decoder trained on the packed shards.

`config_from_params(section) -> TrainConfig` validates params.yaml `pretrain`; `train(cfg, data_dir,
tokenizer_path, out_dir, live_dir) -> metrics` runs (or resumes) training in this process or as one
rank under torchrun (`python -m tasks.pretrain.train`); `export_hf(checkpoint, tokenizer_path, out_dir)`
writes a `transformers.LlamaForCausalLM` directory. Training is one job rather than per-shard work,
so `aggregate` only shapes the metrics of one or more runs for metrics/pretrain.json.
"""
from __future__ import annotations

from typing import Any

from tasks.pretrain.config import PhaseConfig, TrainConfig, config_from_params

Config = TrainConfig  # the name every stage package exposes

__all__ = ["Config", "PhaseConfig", "TrainConfig", "aggregate", "config_from_params", "export_hf", "train"]


def train(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See tasks.pretrain.train.train (imported lazily: torch is heavy)."""
    from tasks.pretrain.train import train as _train

    return _train(*args, **kwargs)


def export_hf(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See tasks.pretrain.export.export_hf."""
    from tasks.pretrain.export import export_hf as _export

    return _export(*args, **kwargs)


def aggregate(run_metrics: dict[str, Any], export_summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """metrics/pretrain.json: the training metrics with rounded floats, plus the export summary."""
    def clean(value: Any) -> Any:
        if isinstance(value, float):
            return float(f"{value:.6g}")
        if isinstance(value, dict):
            return {k: clean(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    out = clean(dict(run_metrics))
    if export_summary is not None:
        out["export"] = clean({k: v for k, v in export_summary.items() if k != "checkpoint"})
    return out
