"""Tiny corpora of local git repositories that tests generate (no network): several languages,
files each filter rule keeps or drops, dependency edges, and a near-duplicate repo pair."""
from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_AUTHOR_DATE": "2022-06-01T12:00:00+00:00", "GIT_COMMITTER_DATE": "2022-06-01T12:00:00+00:00",
}


def _py_module(name: str, n: int) -> str:
    funcs = "\n\n".join(
        f"def {name}_fn_{i}(values, factor={i + 1}):\n"
        f"    \"\"\"Scale every value of the list by {i + 1} and keep the positive ones.\"\"\"\n"
        f"    result = []\n    for value in values:\n        scaled = value * factor\n"
        f"        if scaled > {i}:\n            result.append(scaled)\n    return result\n"
        for i in range(n))
    return funcs + "\n"


def python_repo(variant: int = 0) -> dict[str, str]:
    extra = f"\n\ndef variant_marker():\n    return {variant}\n" if variant else ""
    return {
        "README.md": "# Sample package\n\nA small package used by the tests. It scales lists of numbers "
                     "and keeps the positive results, with helpers in `util`.\n",
        "pkg/__init__.py": "from .core import run\n",
        "pkg/util.py": _py_module("util", 6),
        "pkg/core.py": "from .util import util_fn_1\nfrom pkg import helpers\n\n\ndef run(xs):\n"
                       "    return helpers.describe(util_fn_1(xs))\n" + extra,
        "pkg/helpers.py": "import json\n\n\ndef describe(values):\n    return json.dumps({'n': len(values), "
                          "'values': values}, indent=2)\n",
        "setup.json": '{"name": "pkg", "version": "1.0", "description": "a sample package for tests"}\n',
        "data/minified.js": "var a=1;" * 200 + "\n",                       # max line length > 1000
        "data/table.csv": "1,2,3\n" * 50,                                   # unsupported language
        "assets/logo.png": "\x89PNG\r\n\x1a\n\x00\x00\x00binary",            # binary
        "config/tiny.yaml": "a: 1\n",                                        # YAML shorter than 50 chars
        "numbers.py": "\n".join(f"x{i} = {i * 1234567}" for i in range(40)) + "\n",  # alpha < 25%?
    }


def c_repo() -> dict[str, str]:
    return {
        "include/mathx.h": "#ifndef MATHX_H\n#define MATHX_H\nint mathx_add(int left, int right);\n#endif\n",
        "src/mathx.c": '#include "mathx.h"\n\nint mathx_add(int left, int right) {\n    return left + right;\n}\n',
        "src/main.c": '#include <stdio.h>\n#include "mathx.h"\n\nint main(void) {\n'
                      '    printf("%d\\n", mathx_add(2, 3));\n    return 0;\n}\n',
        "Makefile": "all: main\n\nmain: src/main.c src/mathx.c\n\tcc -Iinclude -o main src/main.c src/mathx.c\n",
        "docs/index.html": "<html>\n<head><title>mathx</title>\n<style>body{color:red}</style></head>\n<body>\n"
                           "<p>The mathx library adds two integers together.\nIt is written in portable C and has "
                           "no dependencies\nbeyond the standard library of the compiler.</p>\n</body>\n</html>\n",
        "docs/layout.html": "<div><div><div><span></span></div></div></div>" * 3 + "\n",  # too little visible text
        "data.xml": '<?xml version="1.0"?>\n<root><item>value</item></root>\n',
    }


def js_repo() -> dict[str, str]:
    return {
        "package.json": '{\n  "name": "jsrepo",\n  "version": "1.0.0",\n  "main": "index.js"\n}\n',
        "index.js": "const { add } = require('./lib/add');\nmodule.exports = function total(items) {\n"
                    "  return items.reduce((acc, item) => add(acc, item), 0);\n};\n",
        "lib/add.js": "function add(a, b) {\n  return a + b;\n}\nmodule.exports = { add };\n",
        "src/types.ts": "export interface Item {\n  name: string;\n  price: number;\n}\n",
        "src/cart.ts": "import { Item } from './types';\n\nexport function cartTotal(items: Item[]): number {\n"
                       "  return items.map((item) => item.price).reduce((a, b) => a + b, 0);\n}\n",
    }


def write_repo(root: Path, files: dict[str, str], commits: int = 1) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **GIT_ENV)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "initial"], cwd=root, check=True, env=env)
    return root


def make_git_corpus(base: Path) -> list[dict[str, str]]:
    """Create the repos under `base` and return their crawl source specs (file:// clone URLs)."""
    repos = {
        "pyrepo": python_repo(0),
        "pyrepo-fork": python_repo(1),   # near-duplicate of pyrepo
        "crepo": c_repo(),
        "jsrepo": js_repo(),
    }
    specs = []
    for name, files in repos.items():
        path = write_repo(base / name, files)
        specs.append({"type": "git", "url": path.resolve().as_uri(), "name": name, "rev": "main"})
    return specs


SKEWED_PY = textwrap.dedent('''
    def compute(values):
        """Return the sum of the squares of the values."""
        total = 0
        for value in values:
            total += value * value
        return total
''')
