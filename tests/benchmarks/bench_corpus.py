"""A tiny data/raw corpus for the harness tests: three repositories (two near-duplicates), a few
languages, one file the filter drops (a 2000-character line) and one binary row without content."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tasks.common.hashing import shard_of
from tasks.common.io import shard_name, write_parquet
from tasks.crawl.crawl import RAW_SCHEMA

PY = ("import os\n\n\ndef walk(root):\n    for name in sorted(os.listdir(root)):\n"
      "        yield os.path.join(root, name)\n")
JS = "export function add(a, b) {\n  return a + b;\n}\n\nexport const answer = add(40, 2);\n"
HTML = ("<html><body>\n<h1>Project documentation</h1>\n<p>\n" + "This page explains how the small tool works.\n" * 6
        + "</p>\n</body></html>\n")
JSON = '{"name": "alpha", "version": "1.0.0", "description": "a tiny package used by the harness tests"}\n'
LONG = "x = '" + "a" * 2000 + "'\n"


def _module(i: int) -> str:
    words = " ".join(f"token{(i * 7 + j) % 97}" for j in range(60))
    return f"# module {i}\n\n\ndef f{i}(value):\n    '''{words}'''\n    return value * {i} + len('{words[:40]}')\n"


FILES = {
    "local/alpha": {"src/walk.py": PY, "src/mod1.py": _module(1), "src/mod2.py": _module(2),
                    "web/add.js": JS, "docs/index.html": HTML, "package.json": JSON, "src/long.py": LONG,
                    "logo.png": None},
    "local/alpha-copy": {"src/walk.py": PY, "src/mod1.py": _module(1), "src/mod2.py": _module(2),
                         "web/add.js": JS, "docs/index.html": HTML, "package.json": JSON},
    "local/beta": {"lib/mod3.py": _module(3), "lib/mod4.py": _module(4), "lib/util.js": JS.replace("add", "sum")},
}
LANGS = {".py": "Python", ".js": "JavaScript", ".html": "HTML", ".json": "JSON", ".png": None}


def rows() -> list[dict]:
    out = []
    for repo, files in FILES.items():
        for path, content in files.items():
            data = b"\x89PNG\r\n\x1a\n" if content is None else content.encode("utf-8")
            out.append({"repo": repo, "source": "local", "path": path, "lang": LANGS[Path(path).suffix],
                        "size": len(data), "sha256": "0" * 64, "is_binary": content is None, "content": content,
                        "skip_reason": "binary" if content is None else None, "stars": 10, "created_at": None,
                        "license": "MIT", "version": None})
    return out


def write_raw(root: Path, n_shards: int = 2) -> Path:
    """data/raw-layout shards under root; rows in shard_of(repo), sorted by (repo, path)."""
    root.mkdir(parents=True, exist_ok=True)
    shards: list[list[dict]] = [[] for _ in range(n_shards)]
    for row in rows():
        shards[shard_of(row["repo"], n_shards)].append(row)
    for i, part in enumerate(shards):
        part.sort(key=lambda r: (r["repo"], r["path"]))
        write_parquet(pa.Table.from_pylist(part, schema=RAW_SCHEMA), root / shard_name(i))
    return root


def content_bytes() -> int:
    return sum(len(c.encode("utf-8")) for files in FILES.values() for c in files.values() if c is not None)
