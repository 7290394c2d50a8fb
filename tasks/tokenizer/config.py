"""`tokenizer` section of params.yaml, validated up front (a bad value raises ParamError naming the key)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.common.params import checked_section, get, number
from tasks.tokenizer.special import SPECIAL_TOKENS

BYTE_ALPHABET = 256


@dataclass(frozen=True)
class Config:
    vocab_size: int = 32000          # DeepSeek-Coder: 32,000 (specials included)
    sample_bytes: int = 100_000_000  # UTF-8 bytes of sample text the BPE trainer sees
    seed: int = 1234                 # salts the train/held-out choice
    min_frequency: int = 2           # a pair must occur this often to be merged
    heldout_fraction: float = 0.02   # share of samples never trained on, used for the metrics
    eval_bytes: int = 20_000_000     # held-out text the metrics are computed on (a bounded sample of it)
    model_max_length: int = 16384    # written to tokenizer_config.json (paper: 16K context)
    frozen: bool = False             # keep the existing tokenizer (nightly refreshes): only the metrics are redone


def config_from_params(section: dict[str, Any]) -> Config:
    section = checked_section(section, "tokenizer", Config.__dataclass_fields__, allow_none=False)
    p = {"tokenizer": section}
    d = Config()
    min_vocab = BYTE_ALPHABET + len(SPECIAL_TOKENS) + 1
    return Config(
        vocab_size=int(number(p, "tokenizer.vocab_size", lo=min_vocab, hi=2**32, integer=True, default=d.vocab_size)),
        sample_bytes=int(number(p, "tokenizer.sample_bytes", lo=0, lo_open=True, integer=True, default=d.sample_bytes)),
        seed=int(number(p, "tokenizer.seed", integer=True, default=d.seed)),
        min_frequency=int(number(p, "tokenizer.min_frequency", lo=1, integer=True, default=d.min_frequency)),
        eval_bytes=int(number(p, "tokenizer.eval_bytes", lo=0, lo_open=True, integer=True, default=d.eval_bytes)),
        heldout_fraction=float(number(p, "tokenizer.heldout_fraction", lo=0, hi=0.5, default=d.heldout_fraction)),
        model_max_length=int(number(p, "tokenizer.model_max_length", lo=1, integer=True, default=d.model_max_length)),
        frozen=get(p, "tokenizer.frozen", default=d.frozen, kind=bool),
    )
