"""Train the BPE tokenizer and save it in the layouts `tokenizers` and `transformers` both load.

The trainer is multithreaded (rayon), but its result does not depend on the thread count: byte-level
BPE has no lazily numbered continuing-subword tokens, the alphabet is sorted, and merge ties break
on pair ids (tested: same tokenizer.json bytes with RAYON_NUM_THREADS=1 and 2, and across runs).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tasks.common.hashing import sha256_hex
from tasks.common.io import atomic_write_json, atomic_write_text, list_shards
from tasks.tokenizer.build import add_bos_processor, new_tokenizer, new_trainer
from tasks.tokenizer.config import Config
from tasks.tokenizer.evaluate import aggregate, evaluate_rows
from tasks.tokenizer.sampling import choose_training_sample, iter_training_texts
from tasks.tokenizer.special import BOS, EOS, EOT, FIM_BEGIN, FIM_END, FIM_HOLE, PAD, SPECIAL_TOKENS

TOKENIZER_FILE = "tokenizer.json"


def _keep_frozen(source: Path, out_dir: Path, sample: Any, cfg: Config, t0: float) -> dict[str, Any]:
    import shutil

    from tokenizers import Tokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in [TOKENIZER_FILE, *hf_files(cfg)]:
        if (source / name).is_file():
            shutil.copyfile(source / name, out_dir / name)
    blob = (out_dir / TOKENIZER_FILE).read_text(encoding="utf-8")
    tok = Tokenizer.from_str(blob)
    t1 = time.perf_counter()
    metrics = aggregate([evaluate_rows(sample.eval_rows, str(out_dir / TOKENIZER_FILE))], vocab_size=tok.get_vocab_size())
    metrics.update({
        "vocab_size": tok.get_vocab_size(), "vocab_size_requested": cfg.vocab_size, "frozen": True,
        "special_tokens": {t: tok.token_to_id(t) for t in SPECIAL_TOKENS},
        "train": None, "eval": {"docs": sample.eval_docs, "bytes": sample.eval_bytes, "budget_bytes": cfg.eval_bytes},
        "tokenizer_sha256": sha256_hex(blob.encode("utf-8")),
        "seconds": {"train": 0.0, "evaluate": round(time.perf_counter() - t1, 3)},
    })
    return metrics


def hf_files(cfg: Config) -> dict[str, dict[str, Any]]:
    """tokenizer_config.json + special_tokens_map.json for `AutoTokenizer.from_pretrained(dir)` offline."""
    extra = [FIM_BEGIN, FIM_HOLE, FIM_END, EOT]
    specials = {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "additional_special_tokens": extra}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        "unk_token": None,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,  # would rewrite " ." etc. and break round-trip
        "model_max_length": cfg.model_max_length,
        "padding_side": "right",
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": specials}


def train_tokenizer(clean_dir: str | os.PathLike, out_dir: str | os.PathLike, cfg: Config,
                    frozen_from: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train on the deterministic sample, write out_dir/{tokenizer.json, tokenizer_config.json,
    special_tokens_map.json}, evaluate on the held-out samples and return the metrics dict.

    `frozen_from`: an existing tokenizer directory to keep instead of training (cfg.frozen): the tokens
    of earlier nights stay valid and their packed units reusable; the metrics are computed anew."""
    out_dir = Path(out_dir)
    shards = list_shards(clean_dir)
    if not shards:
        raise FileNotFoundError(f"{clean_dir}: no clean shards to train the tokenizer on")
    t0 = time.perf_counter()
    sample = choose_training_sample(clean_dir, cfg)
    if frozen_from is not None:
        return _keep_frozen(Path(frozen_from), out_dir, sample, cfg, t0)
    if sample.n_docs == 0:
        raise ValueError(f"{clean_dir}: no non-empty, non-held-out sample to train on "
                         f"({sample.n_heldout} held out); lower tokenizer.heldout_fraction")
    tok = new_tokenizer()
    tok.train_from_iterator(iter_training_texts(sample), trainer=new_trainer(cfg))
    add_bos_processor(tok)
    for i, text in enumerate(SPECIAL_TOKENS):  # the layout the rest of the pipeline relies on
        assert tok.token_to_id(text) == i, (text, tok.token_to_id(text))
    train_s = time.perf_counter() - t0

    out_dir.mkdir(parents=True, exist_ok=True)
    blob = tok.to_str(pretty=True)
    atomic_write_text(out_dir / TOKENIZER_FILE, blob)
    for name, obj in hf_files(cfg).items():
        atomic_write_json(out_dir / name, obj)

    t1 = time.perf_counter()
    tok_path = str(out_dir / TOKENIZER_FILE)
    metrics = aggregate([evaluate_rows(sample.eval_rows, tok_path)], vocab_size=tok.get_vocab_size())
    metrics.update({
        "vocab_size": tok.get_vocab_size(),
        "vocab_size_requested": cfg.vocab_size,
        "special_tokens": {t: tok.token_to_id(t) for t in SPECIAL_TOKENS},
        "train": {"docs": sample.n_docs, "bytes": sample.n_bytes, "candidates": sample.n_candidates,
                  "heldout_docs": sample.n_heldout},
        "eval": {"docs": sample.eval_docs, "bytes": sample.eval_bytes, "budget_bytes": cfg.eval_bytes},
        "tokenizer_sha256": sha256_hex(blob.encode("utf-8")), "frozen": False,
        "seconds": {"train": round(train_s, 3), "evaluate": round(time.perf_counter() - t1, 3)},
    })
    return metrics
