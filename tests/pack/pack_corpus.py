"""Tiny generated inputs for the pack tests: clean shards whose every document carries a marker
naming its repo and language (so tests can find documents in decoded token streams), a small
tokenizer trained on them, and a JSONL text source."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa

from tasks.common.hashing import shard_of
from tasks.common.io import shard_name, write_parquet
from tasks.tokenizer import config_from_params, train_tokenizer

ODD = ["\t", "\r\n", "\u00a0", "\u200b", "😀", "é", "日本", "<|EOT|>", "<｜fim▁begin｜>"]
LANG_EXT = {"Python": "py", "Go": "go", "Markdown": "md"}

SCHEMA = pa.schema([("repo", pa.string()), ("source", pa.string()), ("license", pa.string()),
                    ("version", pa.string()), ("stars", pa.int64()), ("sample", pa.int32()),
                    ("files", pa.list_(pa.string())), ("langs", pa.list_(pa.string())),
                    ("contents", pa.list_(pa.string())), ("text", pa.string()), ("n_files", pa.int32()),
                    ("size", pa.int64())])


def marker(repo_ix: int, lang: str) -> str:
    return f"MK{lang[:2].upper()}{repo_ix:04d}KM"


def body(rng: random.Random, lang: str, mark: str) -> str:
    lines = []
    for _ in range(rng.randint(2, 8)):
        odd = rng.choice(ODD)
        if lang == "Python":
            lines.append(f"def f_{mark}_{rng.randint(0, 999)}(x):\n    return x + {rng.randint(0, 99)}  # {odd}\n")
        elif lang == "Go":
            lines.append(f"func F{mark}() int {{\n\treturn {rng.randint(0, 99)} // {odd}\n}}\n")
        else:
            lines.append(f"## {mark} notes\n\nSome text{odd} about `{mark}`.\n")
    return "".join(lines)


def make_rows(n_repos: int, seed: int = 0, langs: tuple[str, ...] = ("Python", "Go", "Markdown")) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for r in range(n_repos):
        repo = f"local/r{r:04d}"
        lang = langs[r % len(langs)]
        for s in range(rng.randint(1, 2)):
            files = [f"m{s}_{i}.{LANG_EXT[lang]}" for i in range(rng.randint(1, 2))]
            contents = [body(rng, lang, marker(r, lang)) for _ in files]
            text = "".join(f"# {p}\n{c}" for p, c in zip(files, contents))
            rows.append({"repo": repo, "source": "local", "license": None, "version": None, "stars": None,
                         "sample": s, "files": files, "langs": [lang] * len(files), "contents": contents,
                         "text": text, "n_files": len(files), "size": len(text.encode("utf-8"))})
    return rows


def write_clean(directory: Path, rows: list[dict], n_shards: int = 3) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n_shards):
        part = sorted((r for r in rows if shard_of(r["repo"], n_shards) == i), key=lambda r: (r["repo"], r["sample"]))
        write_parquet(pa.Table.from_pylist(part, schema=SCHEMA), directory / shard_name(i))
    return directory


def train_small_tokenizer(clean_dir: Path, out_dir: Path) -> Path:
    cfg = config_from_params({"vocab_size": 700, "sample_bytes": 10**7, "heldout_fraction": 0.1})
    train_tokenizer(clean_dir, out_dir, cfg)
    return out_dir / "tokenizer.json"


def write_text_jsonl(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            words = " ".join(rng.choice(["the", "river", "bank", "über", "naïve", "Stadt"]) for _ in range(rng.randint(5, 40)))
            fh.write(json.dumps({"id": i, "text": f"TXT{i:04d}TXT {words}."}, ensure_ascii=False) + "\n")
    return path
