"""The untrained tokenizer pipeline and its trainer (byte-level BPE, DeepSeek-Coder style).

- No normalizer: code must round-trip byte for byte (tabs, \\r\\n, U+00A0, zero-width chars, emoji).
- Pre-tokenizer: digits split one by one (as DeepSeek's tokenizers do: numbers never merge into
  arbitrary chunks), then GPT-2's byte-level split and byte-to-unicode mapping. Byte-level means
  every string is representable, so there is no unknown token and decode(encode(x)) == x.
- Post-processor: prepends BOS, like the released DeepSeek-Coder tokenizer, so `encode(prompt)` at
  evaluation matches how `pack` starts every training document; `add_special_tokens=False` turns it off.
"""
from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from tasks.tokenizer.config import Config
from tasks.tokenizer.special import BOS, SPECIAL_TOKENS


def new_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


def new_trainer(cfg: Config) -> trainers.BpeTrainer:
    # Specials first, so their ids are 0..6 whatever the vocab size; the full byte alphabet is
    # seeded so that bytes absent from the sample still encode.
    return trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )


def add_bos_processor(tok: Tokenizer) -> None:
    bos_id = tok.token_to_id(BOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B:1", special_tokens=[(BOS, bos_id)])
