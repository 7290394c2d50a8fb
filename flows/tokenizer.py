"""Stage `tokenizer` (DeepSeek-Coder §3.1): byte-level BPE trained with HF `tokenizers` on a deterministic
sample of data/clean, with the DeepSeek-Coder special tokens; bytes/token per language on held-out text."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow

from flows._runtime import markdown_table, publish_markdown, publish_table, run_stage, timed, write_metrics, write_timings
from tasks.common.io import atomic_dir
from tasks.common.params import load_params, section
from tasks.tokenizer import config_from_params, train_tokenizer

IN_DIR, OUT_DIR = "data/clean", "models/tokenizer"


@flow(name="tokenizer", log_prints=True)
def tokenizer_flow(params_path: str = "params.yaml") -> dict[str, Any]:
    elapsed = timed()
    cfg = config_from_params(section(load_params(params_path), "tokenizer"))
    existing = Path(OUT_DIR) / "tokenizer.json"
    frozen_from = OUT_DIR if cfg.frozen and existing.is_file() else None  # the out persists (dvc.yaml)
    if cfg.frozen and frozen_from is None:
        print(f"tokenizer.frozen: no {existing} yet, training the first one")
    with atomic_dir(OUT_DIR) as out:
        metrics = train_tokenizer(IN_DIR, out, cfg, frozen_from=frozen_from)
    seconds = metrics.pop("seconds", {})
    write_metrics("tokenizer", metrics)
    write_timings("tokenizer", {"seconds": elapsed(), **{f"{k}_seconds": v for k, v in seconds.items()}})
    langs = [{"lang": k, **v} for k, v in sorted(metrics.get("languages", {}).items())]
    publish_table("tokenizer-languages", langs, "Held-out bytes per token and round-trip per language")
    publish_markdown("tokenizer-summary", (
        f"# Tokenizer\n\nVocabulary {metrics['vocab_size']} (requested {metrics['vocab_size_requested']}), "
        + (f"kept frozen ({metrics['tokenizer_sha256'][:12]}).\n\n" if metrics.get("frozen") else
           f"trained on {metrics['train']['docs']} documents ({metrics['train']['bytes']:,} bytes).\n\n")
        + markdown_table(langs)), "Tokenizer summary")
    return metrics


if __name__ == "__main__":
    raise SystemExit(run_stage(tokenizer_flow))
