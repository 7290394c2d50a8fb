"""Stage `sft` (DeepSeek-Coder §3.5 on Magicoder's OSS-Instruct data): instruction-tune the pretrained
export on data/instruct/instruct.jsonl, export the tuned model to models/sft (HF Llama, `<|EOT|>` as its
end-of-turn token), evaluate it with the evaluate stage's harness and write metrics/sft.json with the
base model's scores beside it. Off by default: with no teacher configured the instruct file is empty,
and the stage writes SKIPPED.json markers and {"enabled": false} in seconds."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from flows._runtime import markdown_table, publish_markdown, publish_table, run_stage, timed, write_metrics, write_timings
from flows.evaluate import benchmark_task, split_timings
from tasks.common.io import atomic_dir
from tasks.common.params import get, load_params

INSTRUCT, TOKENIZER, TRAIN_DIR, EXPORT_DIR, EVAL_DIR, LIVE_DIR, BASE_EVAL = (
    "data/instruct/instruct.jsonl", "models/tokenizer/tokenizer.json", "models/sft_train", "models/sft",
    "data/eval_sft", "dvclive/sft", "metrics/eval.json")


@task(name="train-sft", cache_policy=NO_CACHE)
def train_task(cfg: Any) -> dict[str, Any]:
    from tasks.sft.train import train

    return train(cfg, INSTRUCT, TOKENIZER, TRAIN_DIR, LIVE_DIR)


@task(name="export-sft", cache_policy=NO_CACHE)
def export_task() -> dict[str, Any]:
    from tasks.pretrain import export_hf
    from tasks.tokenizer.special import EOT

    with atomic_dir(EXPORT_DIR) as out:
        return export_hf(TRAIN_DIR, TOKENIZER, str(out), eos_token=EOT)


def evaluate_tuned(eval_cfg: Any) -> dict[str, Any]:
    """The evaluate stage's per-benchmark tasks on the tuned export; generations go to data/eval_sft."""
    from tasks.evaluate import aggregate
    from tasks.evaluate.harness import with_sandbox

    with atomic_dir(EVAL_DIR) as out:
        stats = [benchmark_task(EXPORT_DIR, name, eval_cfg, str(out)) for name in eval_cfg.benchmarks]
    return with_sandbox(aggregate(stats), eval_cfg)


def skip(reason: str, elapsed: Any) -> dict[str, Any]:
    """Markers in place of every output (DVC needs them to exist) and a note on how to turn it on."""
    from tasks.sft import skipped_metrics, write_skipped

    for out_dir in (EXPORT_DIR, EVAL_DIR):
        with atomic_dir(out_dir) as out:
            write_skipped(out, reason)
    write_skipped(TRAIN_DIR, reason)  # persistent (checkpoints of an earlier enabled run stay resumable)
    (Path(LIVE_DIR) / "plots" / "metrics").mkdir(parents=True, exist_ok=True)
    metrics = skipped_metrics(reason)
    write_metrics("sft", metrics)
    write_timings("sft", {"seconds": elapsed()})
    publish_markdown("sft-summary", f"# Instruction tuning (SFT): skipped\n\n{reason}\n\n**How to enable.** "
                     f"{metrics['how_to_enable']}\n", "SFT summary")
    print(f"sft: skipped ({reason})")
    return metrics


@flow(name="sft", log_prints=True)
def sft_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    from tasks.evaluate import config_from_params as eval_config
    from tasks.sft import aggregate, config_from_params, eval_settings
    from tasks.sft.data import has_rows

    elapsed = timed()
    params = load_params(params_path)
    cfg = config_from_params(get(params, "sft", default={}))
    eval_cfg = eval_config(eval_settings(params, cfg))  # validated before any training
    if not Path(INSTRUCT).is_file():
        raise FileNotFoundError(f"{INSTRUCT}: missing (the oss_instruct stage writes it, empty when disabled)")
    if not has_rows(INSTRUCT):
        return skip(f"{INSTRUCT} is empty: the oss_instruct stage has no teacher configured", elapsed)

    Path(TRAIN_DIR, "SKIPPED.json").unlink(missing_ok=True)  # left by an earlier disabled run
    run = train_task(cfg)
    exported = export_task()
    eval_metrics = evaluate_tuned(eval_cfg)
    eval_timings = split_timings(eval_metrics)
    base = json.loads(Path(BASE_EVAL).read_text(encoding="utf-8")) if Path(BASE_EVAL).is_file() else None
    metrics = aggregate(run, exported, eval_metrics, base, cfg.evaluate)
    write_metrics("sft", metrics)
    write_timings("sft", {"seconds": elapsed(), "train_wall_time_s": run["wall_time_s"],
                          **({"tokens_per_s": run["tokens_per_s"]} if run.get("tokens_per_s") else {}),
                          **{f"eval.{k}": v for k, v in eval_timings.items()}})

    rows = metrics["eval"]["comparison"]
    publish_table("sft-eval", rows, f"Scores of {EXPORT_DIR} (sft) next to {cfg.base_model} (base, {BASE_EVAL})")
    loss, probe, data = metrics["loss"], metrics["probe"], metrics["data"]
    publish_markdown("sft-summary", (
        f"# Instruction tuning (SFT)\n\n{data['examples']} of {data['rows']} rows used "
        f"(dropped {data['dropped']}, truncated {data['truncated']}), {metrics['steps']} steps, "
        f"{metrics['epochs']} epochs, {metrics['tokens']:,} tokens ({metrics['response_tokens']:,} with loss).\n\n"
        f"Train loss {loss.get('mean_first')} -> {loss.get('mean_last')} (first/last {loss.get('window')} steps); "
        f"response loss on {probe['rows']} fixed rows {probe['loss_before']} -> {probe['loss_after']}.\n\n"
        f"## Evaluation (same harness as `evaluate`)\n\n" + markdown_table(rows)
        + (f"\nErrors: {metrics['eval']['errors']}\n" if metrics["eval"]["errors"] else "")
        + f"\nExported to `{EXPORT_DIR}` (transformers LlamaForCausalLM, eos `<|EOT|>`)."), "SFT summary")
    return metrics


if __name__ == "__main__":
    raise SystemExit(run_stage(sft_flow))
