"""Tokenizer stage: byte-level BPE trained on a deterministic sample of data/clean (DeepSeek-Coder §3.1).

Public API: `Config`, `config_from_params`, `train_tokenizer` (whole stage), and for fan-out of the
held-out evaluation `evaluate_rows` + `aggregate`. Special token strings live in `special`.
"""
from tasks.tokenizer.config import Config, config_from_params
from tasks.tokenizer.evaluate import aggregate, evaluate_rows
from tasks.tokenizer.special import SPECIAL_TOKENS, SpecialIds, special_ids
from tasks.tokenizer.train import train_tokenizer

__all__ = ["Config", "config_from_params", "train_tokenizer", "evaluate_rows", "aggregate",
           "SPECIAL_TOKENS", "SpecialIds", "special_ids"]
