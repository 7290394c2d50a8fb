"""Generators for the dedup tests: data/ordered-style shards and code-like near-duplicate text."""
from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa

from tasks.common.hashing import shard_of
from tasks.common.io import shard_name, write_parquet

ORDERED_SCHEMA = pa.schema([
    ("repo", pa.string()), ("source", pa.string()), ("license", pa.string()), ("version", pa.string()),
    ("stars", pa.int64()), ("sample", pa.int32()), ("files", pa.list_(pa.string())),
    ("langs", pa.list_(pa.string())), ("contents", pa.list_(pa.string())), ("text", pa.string()),
    ("n_files", pa.int32()), ("size", pa.int64()),
])

_SYLLABLES = ["ka", "lo", "mi", "ne", "po", "ru", "si", "ta", "vu", "xe", "zo", "qi", "by", "do", "fa", "gu"]
_PUNCT = ["(", ")", "=", "+", ":", ",", ".", "[", "]", "return", "def", "if", "for", "in"]


def vocabulary(size: int = 3000, seed: int = 0) -> list[str]:
    rnd = random.Random(seed)
    words = set()
    while len(words) < size:
        words.add("".join(rnd.choice(_SYLLABLES) for _ in range(rnd.randint(2, 6))))
    return sorted(words) + _PUNCT


def code_like(rnd: random.Random, vocab: list[str], n_tokens: int) -> list[str]:
    return [rnd.choice(vocab) for _ in range(n_tokens)]


def render(tokens: list[str], rnd: random.Random | None = None) -> str:
    """Tokens laid out as indented lines (whitespace layout does not matter to shingles)."""
    rnd = rnd or random.Random(len(tokens))
    lines, i = [], 0
    while i < len(tokens):
        step = rnd.randint(4, 12)
        lines.append("    " * rnd.randint(0, 3) + " ".join(tokens[i:i + step]))
        i += step
    return "\n".join(lines) + "\n"


def mutate(tokens: list[str], rate: float, rnd: random.Random, vocab: list[str]) -> list[str]:
    return [rnd.choice(vocab) if rnd.random() < rate else t for t in tokens]


def write_ordered(root: Path, repos: dict[str, list[str]], n_shards: int,
                  stars: dict[str, int | None] | None = None) -> list[Path]:
    """data/ordered-style shards: one row per sample, rows sorted by (repo, sample), shard by repo id."""
    stars = stars or {}
    rows: dict[int, list[dict]] = {i: [] for i in range(n_shards)}
    for repo in sorted(repos):
        for sample, text in enumerate(repos[repo]):
            rows[shard_of(repo, n_shards)].append({
                "repo": repo, "source": "local", "license": "MIT", "version": None,
                "stars": stars.get(repo), "sample": sample, "files": [f"f{sample}.py"], "langs": ["Python"],
                "contents": [text], "text": text, "n_files": 1, "size": len(text.encode("utf-8"))})
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_shards):
        path = root / shard_name(i)
        write_parquet(pa.Table.from_pylist(rows[i], schema=ORDERED_SCHEMA), path)
        paths.append(path)
    return paths
