"""A tiny random Llama checkpoint in the exact layout pretrain exports, for smoke tests.

Byte-level BPE trained with `tokenizers` on a few lines of code, DeepSeek-Coder's special tokens
(BOS added by the post-processor, as DeepSeek's tokenizer does), a 2-layer LlamaForCausalLM saved as
safetensors + config.json + tokenizer.json. Seeded, so every build gives the same weights.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from tasks.evaluate.benchmarks import BOS, EOS, FIM_BEGIN, FIM_END, FIM_HOLE

SPECIAL_TOKENS = [BOS, EOS, FIM_BEGIN, FIM_HOLE, FIM_END]
DEFAULT_CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def is_even(n):\n    return n % 2 == 0\n",
    "for i in range(10):\n    print(i)\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n",
    "import math\nx = math.sqrt(16)\nassert x == 4.0\n",
    "You are an expert Python programmer, and here is your task: Write a function.\n[BEGIN]\n[DONE]\n",
]


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(corpus), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))])
    return tok


def make_tiny_checkpoint(out_dir: str | os.PathLike, corpus: Iterable[str] | None = None, *, seed: int = 0,
                         hidden_size: int = 32, layers: int = 2, max_positions: int = 512) -> Path:
    """Write tokenizer.json, config.json and model.safetensors into `out_dir` and return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(corpus or DEFAULT_CORPUS)
    tok.save(str(out / "tokenizer.json"))
    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=max_positions, bos_token_id=tok.token_to_id(BOS),
        eos_token_id=tok.token_to_id(EOS), tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    return out
