"""Special tokens with the exact strings of the released DeepSeek-Coder tokenizer.

The bars are FULLWIDTH VERTICAL LINE (U+FF5C) and the word separator is LOWER ONE EIGHTH BLOCK
(U+2581), as in deepseek-ai/deepseek-coder-*-base; `<|EOT|>` uses ASCII bars, as released. The
released base tokenizer has no dedicated pad token (it pads with EOS); we add `<｜▁pad▁｜>`, the pad
string DeepSeek-V2/V3 use, so that padding can be masked without ever masking a real EOS.

The trainer assigns ids in this order, so they are stable across vocab sizes: BOS=0, EOS=1,
FIM begin/hole/end=2/3/4, EOT=5, PAD=6.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
FIM_BEGIN = "<｜fim▁begin｜>"
FIM_HOLE = "<｜fim▁hole｜>"
FIM_END = "<｜fim▁end｜>"
EOT = "<|EOT|>"
PAD = "<｜▁pad▁｜>"

SPECIAL_TOKENS: tuple[str, ...] = (BOS, EOS, FIM_BEGIN, FIM_HOLE, FIM_END, EOT, PAD)


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    fim_begin: int
    fim_hole: int
    fim_end: int
    eot: int
    pad: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def special_ids(tokenizer) -> SpecialIds:
    """Ids of the special tokens in a loaded `tokenizers.Tokenizer`; fails loudly if one is missing."""
    ids = []
    for text in SPECIAL_TOKENS:
        tid = tokenizer.token_to_id(text)
        if tid is None:
            raise ValueError(f"tokenizer has no special token {text!r}")
        ids.append(tid)
    return SpecialIds(*ids)
