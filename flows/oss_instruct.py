"""Stage `oss_instruct` (Magicoder OSS-Instruct, arXiv 2312.02120), an optional branch after `quality`:
random 1-15 line snippets of the clean corpus inspire a teacher model to write a problem and its
solution; answers that do not parse, fail their own tests, match a benchmark or repeat another are
dropped with their reason. Off (an empty dataset) until a teacher endpoint is configured."""
from __future__ import annotations

import os
from typing import Any

from prefect import flow

from flows._runtime import (markdown_table, publish_markdown, publish_table, run_gate, run_stage, timed,
                            write_metrics, write_timings)
from tasks.common.io import atomic_dir
from tasks.common.params import load_params, section
from tasks.oss_instruct import ENV_API_KEY, ENV_BASE_URL, REASONS, Config, config_from_params, generate, write_disabled

IN_DIR, OUT_DIR = "data/clean", "data/instruct"


def teacher_api_key(cfg: Config) -> str | None:
    """From the environment, else from the Prefect Secret block named in params; never logged."""
    key = os.environ.get(ENV_API_KEY)
    if key or not cfg.teacher.secret_block:
        return key or None
    from prefect.blocks.system import Secret

    return str(Secret.load(cfg.teacher.secret_block).get())


@flow(name="oss_instruct", log_prints=True)
def oss_instruct_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    cfg = config_from_params(params.get("oss_instruct"))
    if not cfg.enabled:
        with atomic_dir(OUT_DIR) as out:
            result = write_disabled(out)
        print(f"oss_instruct is off: no teacher endpoint (set oss_instruct.teacher.base_url or {ENV_BASE_URL}); "
              "wrote an empty data/instruct/instruct.jsonl")
        publish_markdown("oss-instruct-summary", "# OSS-Instruct\n\nOff: no teacher endpoint configured "
                         f"(`oss_instruct.teacher.base_url` or `{ENV_BASE_URL}`). The dataset is empty.\n",
                         "OSS-Instruct summary")
        write_metrics("oss_instruct", result.metrics)
        write_timings("oss_instruct", {"seconds": elapsed()})
        return result.metrics

    from tasks.quality import config_from_params as quality_config

    quality_cfg = quality_config({"decontam": section(params, "quality").get("decontam") or {}})
    print(f"oss_instruct: teacher {cfg.teacher.model} at {cfg.teacher.base_url}")
    with atomic_dir(OUT_DIR) as out:
        result = generate(cfg, IN_DIR, out, api_key=teacher_api_key(cfg), quality_cfg=quality_cfg)
        publish_oss_instruct_artifacts(result.metrics, result.run)
        gate_oss_instruct(result.metrics, cfg)
    write_metrics("oss_instruct", result.metrics)
    write_timings("oss_instruct", {"seconds": elapsed(), **{f"run_{k}": v for k, v in result.run.items()}})
    return result.metrics


def gate_oss_instruct(metrics: dict[str, Any], cfg: Config) -> None:
    import pandas as pd
    from expectations.suites import value_between

    table = pd.DataFrame([{"kept_share": metrics["kept_share"], "parse_valid_share": metrics["parse_valid_share"],
                           "kept": metrics["kept"]}])
    run_gate("oss_instruct", table, value_between("kept_share", cfg.gate.min_kept_share, 1.0)
             + value_between("parse_valid_share", cfg.gate.min_parse_valid_share, 1.0)
             + value_between("kept", 1, None))


def publish_oss_instruct_artifacts(metrics: dict[str, Any], run: dict[str, Any]) -> None:
    rows = []
    for lang, v in metrics["per_language"].items():
        rows.append({"lang": lang, "seeds": v["seeds"], "kept": v["kept"],
                     **{r: v["dropped"].get(r, 0) for r in REASONS}})
    publish_table("oss-instruct-languages", rows, "Seeds, kept items and drops by reason, per language")
    reasons = [{"reason": r, "dropped": n} for r, n in metrics["dropped_by_reason"].items()]
    tokens = metrics["tokens"]
    publish_markdown("oss-instruct-summary", (
        f"# OSS-Instruct\n\nTeacher `{metrics['teacher']['model']}`: kept {metrics['kept']} of "
        f"{metrics['seeds']['drawn']} seeds ({metrics['kept_share']:.1%}); answers parsing cleanly: "
        f"{metrics['parse_valid_share']:.1%}.\n\n"
        f"Dataset tokens: {tokens['prompt']} prompt + {tokens['completion']} completion, estimated cost "
        f"${metrics['estimated_cost_usd']:.4f}.\n\n"
        f"This run: {run.get('requests', 0)} requests ({run.get('retries', 0)} retries), "
        f"{run.get('cache_hits', 0)} cache hits, {run.get('prompt_tokens', 0)} + {run.get('completion_tokens', 0)} "
        f"tokens paid for, ${run.get('cost_usd', 0.0):.4f}.\n\n## Drops by reason\n\n" + markdown_table(reasons)
        + "\n## Per language\n\n" + markdown_table(rows)), "OSS-Instruct summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(oss_instruct_flow))
