"""A tiny data/clean corpus with awkward text (non-ASCII, tabs, CRLF, NBSP, zero-width, emoji)."""
from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa

from tasks.common.hashing import shard_of
from tasks.common.io import shard_name, write_parquet

ODD = ["\t", "\r\n", "\u00a0", "\u200b", "\u200d", "😀", "👩‍💻", "é", "ß", "日本語", "Привет", "\x0c", "  \n"]

SNIPPETS = {
    "Python": ["def {w}(x):\n    return x + {n}\n", "class {W}:\n\tpass\n", "# {w} ✓ {odd}\nprint('{w}')\n"],
    "JavaScript": ["function {w}(a) {{ return a * {n}; }}\n", "const {w} = `{odd}`;\r\n"],
    "Go": ["func {W}() int {{\n\treturn {n}\n}}\n", "// {odd} {w}\n"],
    "Markdown": ["# {W}\n\nSome *{w}* text{odd} with `code`.\n", "- item {n}\u00a0{w}\n"],
}
WORDS = ["alpha", "beta", "gamma", "delta", "parse", "render", "token", "naïve", "café", "数据"]


def make_file(rng: random.Random, lang: str) -> str:
    parts = []
    for _ in range(rng.randint(2, 6)):
        w = rng.choice(WORDS)
        parts.append(rng.choice(SNIPPETS[lang]).format(w=w, W=w.capitalize(), n=rng.randint(0, 99999),
                                                        odd=rng.choice(ODD)))
    return "".join(parts)


def make_rows(n_repos: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for r in range(n_repos):
        repo = f"local/repo{r:03d}"
        for s in range(rng.randint(1, 2)):
            langs = rng.choice([["Python", "Python"], ["JavaScript"], ["Go", "Go"], ["Markdown"], ["Python", "Markdown"]])
            files = [f"f{i}.{lang[:2].lower()}" for i, lang in enumerate(langs)]
            contents = [make_file(rng, lang) for lang in langs]
            text = "".join(f"# {p}\n{c}" for p, c in zip(files, contents))
            rows.append({"repo": repo, "source": "local", "license": None, "version": None, "stars": None,
                         "sample": s, "files": files, "langs": langs, "contents": contents, "text": text,
                         "n_files": len(files), "size": len(text.encode("utf-8"))})
    return rows


SCHEMA = pa.schema([("repo", pa.string()), ("source", pa.string()), ("license", pa.string()),
                    ("version", pa.string()), ("stars", pa.int64()), ("sample", pa.int32()),
                    ("files", pa.list_(pa.string())), ("langs", pa.list_(pa.string())),
                    ("contents", pa.list_(pa.string())), ("text", pa.string()), ("n_files", pa.int32()),
                    ("size", pa.int64())])


def write_clean(directory: Path, rows: list[dict], n_shards: int = 2) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n_shards):
        part = sorted((r for r in rows if shard_of(r["repo"], n_shards) == i), key=lambda r: (r["repo"], r["sample"]))
        write_parquet(pa.Table.from_pylist(part, schema=SCHEMA), directory / shard_name(i))
    return directory
