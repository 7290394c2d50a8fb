"""Stage `pack` (DeepSeek-Coder §3.2): FIM (PSM, rate 0.5) at document level, the code/text mixture of
params, fixed-length token shards for train / val / cooldown; the validation repositories' documents
are also kept as text (data/heldout) for the evaluation's completion and FIM validation."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from prefect import flow, task
from prefect.cache_policies import NONE as NO_CACHE

from flows._runtime import markdown_table, publish_markdown, publish_table, run_stage, timed, write_metrics, write_timings
from tasks.common.io import atomic_dir, list_shards, write_parquet
from tasks.common.params import load_params, section

IN_DIR, TOKENIZER, OUT_DIR, HELDOUT_DIR = "data/clean", "models/tokenizer/tokenizer.json", "data/packed", "data/heldout"
HELDOUT_SCHEMA = pa.schema([("repo", pa.string()), ("sample", pa.int32()), ("text", pa.string())])


def write_heldout(clean_dir: str, out_dir: Path, seed: int, val_ratio: float) -> int:
    """The documents of the validation repositories (same split rule as the packer), one shard per input shard."""
    from tasks.pack.encode import split_of

    n = 0
    for shard in list_shards(clean_dir):
        table = pq.read_table(shard, columns=["repo", "sample", "text"])
        keep = [split_of(seed, repo, val_ratio) == 1 for repo in table.column("repo").to_pylist()]
        rows = table.filter(pa.array(keep, type=pa.bool_())).cast(HELDOUT_SCHEMA)
        write_parquet(rows, out_dir / shard.name)
        n += rows.num_rows
    return n


@task(name="pack", cache_policy=NO_CACHE)
def pack_task(params_path: str) -> dict[str, Any]:
    from tasks.pack import config_from_params, pack

    cfg = config_from_params(section(load_params(params_path), "pack"))
    metrics = pack(IN_DIR, TOKENIZER, OUT_DIR, cfg)
    with atomic_dir(HELDOUT_DIR) as out:
        metrics["heldout_docs"] = write_heldout(IN_DIR, out, cfg.seed, cfg.val_ratio)
    return metrics


@flow(name="pack", log_prints=True)
def pack_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    metrics = pack_task(params_path)
    run_info = {k: metrics.pop(k) for k in ("seconds", "workers") if k in metrics}
    for k, v in (metrics.pop("encode", None) or {}).items():  # encode speed varies per run
        run_info[f"encode_{k}"] = v
    write_metrics("pack", metrics)
    write_timings("pack", {"seconds": elapsed(), **run_info})
    publish_pack_artifacts(metrics)
    return metrics


def publish_pack_artifacts(metrics: dict[str, Any]) -> None:
    rows = []
    for split, info in sorted((metrics.get("splits") or {}).items()):
        if isinstance(info, dict):
            rows.append({"split": split, **{k: v for k, v in info.items() if not isinstance(v, (dict, list))}})
    publish_table("pack-splits", rows, "Token shards per split")
    publish_markdown("pack-summary", "# Pack\n\n" + markdown_table(rows)
                     + f"\nMixture: `{metrics.get('mixture')}`\n\nFIM: `{metrics.get('fim')}`\n", "Pack summary")


if __name__ == "__main__":
    raise SystemExit(run_stage(pack_flow))
