"""A generated corpus whose near-duplicate pairs straddle the dedup threshold (for the accuracy row).

Each family is one random code-like token stream plus variants with a share `p` of tokens
substituted; a 5-token shingle survives with probability (1-p)^5, so the rates below give pairwise
Jaccard from 1.0 down to ~0.5, densest around 0.85, where LSH and verification are hardest.
"""
from __future__ import annotations

import random

RATES = (0.0, 0.004, 0.008, 0.012, 0.016, 0.02, 0.026, 0.035, 0.05, 0.08)
_SYLLABLES = ("ba", "ce", "di", "fo", "gu", "ha", "ji", "ko", "lu", "me", "ni", "po", "qu", "ra", "se", "ti")
_CODE = ("(", ")", "=", ":", ",", "[", "]", "return", "def", "if", "for", "in", "{", "}", "+", "self")


def vocabulary(size: int, rnd: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rnd.choice(_SYLLABLES) for _ in range(rnd.randint(2, 5))))
    return sorted(words) + list(_CODE)


def render(tokens: list[str], rnd: random.Random) -> str:
    """Tokens as indented lines (layout does not change whitespace-token shingles)."""
    lines, i = [], 0
    while i < len(tokens):
        step = rnd.randint(3, 10)
        lines.append("    " * rnd.randint(0, 3) + " ".join(tokens[i:i + step]))
        i += step
    return "\n".join(lines) + "\n"


def near_duplicate_families(families: int = 8, tokens: int = 800, singletons: int = 10, seed: int = 7,
                            rates: tuple[float, ...] = RATES) -> dict[str, str]:
    """{doc id: text}: `families` x len(rates) variants plus unrelated singletons; deterministic."""
    rnd = random.Random(seed)
    vocab = vocabulary(3000, rnd)
    docs: dict[str, str] = {}
    for fam in range(families):
        base = [rnd.choice(vocab) for _ in range(tokens)]
        for rate in rates:
            variant = [rnd.choice(vocab) if rnd.random() < rate else t for t in base]
            docs[f"gen/family{fam:02d}/p{rate:.3f}"] = render(variant, rnd)
    for i in range(singletons):
        docs[f"gen/single{i:02d}"] = render([rnd.choice(vocab) for _ in range(tokens)], rnd)
    return docs
