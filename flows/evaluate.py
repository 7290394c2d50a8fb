"""Stage `evaluate` (DeepSeek-Coder §4): HumanEval (Python and seven more languages), MBPP, HumanEval-FIM and
single-line FIM in three languages, LeetCode Contest, and validation completion for the exported checkpoint
(or any Hugging Face Llama-format directory named in params), generated code run in the sandbox with each
language's toolchain. Generations go to data/eval/, scores and the paper's tables to metrics/eval.json."""
from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from flows._runtime import markdown_table, publish_markdown, publish_table, run_stage, timed, write_metrics, write_timings
from tasks.common.io import atomic_dir
from tasks.common.params import get, load_params, section

MODEL_DIR, OUT_DIR = "models/export", "data/eval"


def split_timings(node: Any, prefix: str = "") -> dict[str, float]:
    """Pop every `*seconds*` entry out of the metrics (they vary per run) and return them flat."""
    found: dict[str, float] = {}
    if isinstance(node, dict):
        for key in list(node):
            path = f"{prefix}{key}"
            if "seconds" in key and isinstance(node[key], (int, float, dict)):
                value = node.pop(key)
                if isinstance(value, dict):
                    found.update({f"{path}.{k}": v for k, v in value.items() if isinstance(v, (int, float))})
                else:
                    found[path] = value
            else:
                found.update(split_timings(node[key], f"{path}."))
    return found


@task(name="benchmark", cache_policy=NO_CACHE, task_run_name="benchmark-{name}")
def benchmark_task(model_dir: str, name: str, cfg: Any, out_dir: str) -> dict[str, Any]:
    """One benchmark, its own task run in the UI (the model is loaded once per process and reused)."""
    from tasks.evaluate import run_benchmark

    stats = run_benchmark(model_dir, name, cfg, out_dir)
    shown = {k: stats[k] for k in ("pass@1", "exact_match", "perplexity", "n_problems", "n", "skipped", "error")
             if k in stats}
    for lang, v in (stats.get("languages") or {}).items():
        shown[lang] = "skipped" if "skipped" in v else v.get("pass@1", v.get("exact_match"))
    print(f"{name}: {shown} ({stats.get('seconds')} s)")
    return stats


def evaluate_checkpoint(model_dir: str, params_path: str, out_dir: str) -> dict[str, Any]:
    from tasks.evaluate import aggregate, config_from_params
    from tasks.evaluate.harness import with_sandbox

    settings = dict(section(load_params(params_path), "evaluate"))
    settings.pop("model_dir", None)  # the flow's key: which checkpoint to evaluate
    cfg = config_from_params(settings)
    stats = [benchmark_task(model_dir, name, cfg, out_dir) for name in cfg.benchmarks]
    return with_sandbox(aggregate(stats), cfg)


@flow(name="evaluate", log_prints=True)
def evaluate_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    model_dir = get(params, "evaluate.model_dir", default=None, kind=str) or MODEL_DIR
    with atomic_dir(OUT_DIR) as out:
        metrics = evaluate_checkpoint(model_dir, params_path, str(out))
    timings = split_timings(metrics)
    write_metrics("eval", metrics)
    write_timings("evaluate", {"seconds": elapsed(), **timings})
    summary = [{"metric": k, "value": v} for k, v in sorted(metrics.get("summary", {}).items())]
    per_bench = [{"benchmark": k, **{kk: vv for kk, vv in v.items() if not isinstance(vv, (dict, list))}}
                 for k, v in sorted(metrics.get("benchmarks", {}).items())]
    from tasks.evaluate.tables import language_rows

    paper = "".join(markdown_table([row]) + "\n" for row in language_rows(metrics["tables"]))
    publish_table("eval-scores", summary, f"Scores of {model_dir}")
    publish_markdown("eval-summary", "# Evaluation\n\n" + markdown_table(summary) + "\n## Benchmarks\n\n"
                     + markdown_table(per_bench) + "\n## The paper's tables (n/a: see metrics/eval.json `tables`)\n\n"
                     + paper + f"\nSandbox layers: {metrics.get('sandbox')}\n", "Evaluation summary")
    return metrics


if __name__ == "__main__":
    raise SystemExit(run_stage(evaluate_flow))
