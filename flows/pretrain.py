"""Stage `pretrain` (DeepSeek-Coder §3.3-3.5): train the decoder on data/packed, then export a Hugging
Face Llama checkpoint. One process by default (CPU here); `runtime.train_nproc_per_node` > 1 (or a GPU
worker of the gpu pool) launches the same script under torchrun. A killed run resumes from its last
checkpoint (models/pretrain is a persistent DVC output)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from flows._runtime import markdown_table, publish_markdown, publish_table, run_stage, timed, write_metrics, write_timings
from tasks.common.io import atomic_dir
from tasks.common.params import load_params, number, section

DATA_DIR, TOKENIZER, OUT_DIR, EXPORT_DIR, LIVE_DIR = (
    "data/packed", "models/tokenizer/tokenizer.json", "models/pretrain", "models/export", "dvclive/pretrain")
SPEED_LOG = "reports/timings/pretrain_steps.jsonl"  # tokens/s and MFU per step (not a DVC output)
# Throughput figures depend on the machine and its load: kept out of the DVC metrics.
RUN_DEPENDENT = ("tokens_per_s", "mfu", "wall_time_s", "run_wall_time_s", "peak_flops_per_device",
                 "peak_flops_source", "resumed_from_step")


def torchrun_command(params_path: str, nproc: int) -> list[str]:
    """The torchrun launch of the training script; every node of a multi-node job runs exactly this
    (pod 0 through this flow, the others through `python -m infra.torchrun_node`)."""
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "-m",
            "tasks.pretrain.train", "--config", params_path, "--data-dir", DATA_DIR, "--tokenizer", TOKENIZER,
            "--out-dir", OUT_DIR, "--live-dir", LIVE_DIR, "--metrics", str(Path(OUT_DIR) / "last_metrics.json")]


def multi_node() -> bool:
    """True inside a multi-node job: torchrun's PET_NNODES (set by infra/gpu-job-template.json) names > 1 node."""
    nnodes = os.environ.get("PET_NNODES", "1").split(":")[-1]
    return nnodes.isdigit() and int(nnodes) > 1


@task(name="train", cache_policy=NO_CACHE)
def train_task(params_path: str, nproc: int) -> dict[str, Any]:
    if nproc > 1 or multi_node():  # same script, N ranks (DDP/FSDP per params)
        subprocess.run(torchrun_command(params_path, nproc), check=True)
        return json.loads((Path(OUT_DIR) / "last_metrics.json").read_text())
    from tasks.pretrain import config_from_params
    from tasks.pretrain.train import train  # the submodule shadows the package-level wrapper once imported

    cfg = config_from_params(section(load_params(params_path), "pretrain"))
    return train(cfg, DATA_DIR, TOKENIZER, OUT_DIR, LIVE_DIR, speed_log=SPEED_LOG)


@task(name="export-hf", cache_policy=NO_CACHE)
def export_task() -> dict[str, Any]:
    from tasks.pretrain import export_hf

    with atomic_dir(EXPORT_DIR) as out:
        return export_hf(OUT_DIR, TOKENIZER, str(out))


@flow(name="pretrain", log_prints=True)
def pretrain_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    params = load_params(params_path)
    nproc = int(number(params, "runtime.train_nproc_per_node", lo=1, integer=True, default=1))
    run = train_task(params_path, nproc)
    exported = export_task()
    from tasks.pretrain import aggregate

    metrics = aggregate(run, exported)
    run_info = {k: metrics.pop(k) for k in RUN_DEPENDENT if k in metrics}
    write_metrics("pretrain", metrics)
    write_timings("pretrain", {"seconds": elapsed(), **{k: v for k, v in run_info.items() if isinstance(v, (int, float))}})
    phases = [{"phase": k, **v} for k, v in metrics.get("phases", {}).items()]
    publish_table("pretrain-phases", phases, "Training phases: steps, tokens, sequence length, RoPE, losses")
    publish_markdown("pretrain-summary", (
        f"# Pretrain\n\n{metrics.get('model')} model, {metrics.get('params', 0):,} parameters, "
        f"{metrics.get('steps')} steps, {metrics.get('tokens', 0):,} tokens. Train loss {metrics.get('train_loss')}, "
        f"val loss {metrics.get('val_loss')}. Throughput {run_info.get('tokens_per_s')} tokens/s, "
        f"MFU {run_info.get('mfu')} ({run_info.get('peak_flops_source')}).\n\n" + markdown_table(phases)
        + f"\nExported to `{EXPORT_DIR}` (transformers LlamaForCausalLM)."), "Pretrain summary")
    return metrics


if __name__ == "__main__":
    raise SystemExit(run_stage(pretrain_flow))
