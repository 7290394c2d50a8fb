"""order_shard end to end: schema, sorting, byte-identical output for shuffled input, failures."""
from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from order_testkit import run
from tasks.common.io import write_parquet
from tasks.order import SCHEMA, Config, aggregate, order_shard, render_sample

REPOS = {
    "git/alpha@000000000001": {
        "pkg/__init__.py": ("Python", "from .core import run\n"),
        "pkg/core.py": ("Python", "import os\nfrom . import util\n"),
        "pkg/util.py": ("Python", "X = 1\n"),
        "README.md": ("Markdown", "# alpha\n"),
        "bin/data.bin": (None, None),
    },
    "pypi/beta@1.0": {
        "src/b.c": ("C", '#include "b.h"\n'),
        "src/b.h": ("C", "int b(void);\n"),
        "web/app.ts": ("TypeScript", "import { h } from './h';\n"),
        "web/h.ts": ("TypeScript", "export const h = 1;\n"),
    },
    "local/gamma": {"only.go": ("Go", "package main\nimport \"fmt\"\n")},
}


def _rows() -> list[dict]:
    rows = []
    for repo, files in REPOS.items():
        for path, (lang, content) in files.items():
            rows.append({"repo": repo, "source": repo.split("/")[0], "path": path, "lang": lang,
                         "size": len((content or "").encode()), "sha256": "0" * 64, "is_binary": content is None,
                         "content": content, "skip_reason": "binary" if content is None else None,
                         "stars": 5 if repo.startswith("git") else None, "created_at": None,
                         "license": "MIT", "version": "1.0" if repo.startswith("pypi") else None})
    return rows


def _write(rows: list[dict], path) -> None:
    write_parquet(pa.Table.from_pylist(rows), path)


def test_shard_schema_sorting_and_text(tmp_path):
    _write(sorted(_rows(), key=lambda r: (r["repo"], r["path"])), tmp_path / "in.parquet")
    stats = order_shard(tmp_path / "in.parquet", tmp_path / "out.parquet", Config())
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.equals(SCHEMA)
    rows = table.to_pylist()
    keys = [(r["repo"], r["sample"]) for r in rows]
    assert keys == sorted(keys)
    for repo in REPOS:
        assert [r["sample"] for r in rows if r["repo"] == repo] == list(range(sum(r["repo"] == repo for r in rows)))
    for r in rows:
        assert r["text"] == render_sample(r["files"], r["langs"], r["contents"])
        assert r["size"] == len(r["text"].encode()) and r["n_files"] == len(r["files"])
    alpha = [r for r in rows if r["repo"] == "git/alpha@000000000001"]
    assert [r["files"] for r in alpha] == [["README.md"], ["pkg/util.py", "pkg/core.py", "pkg/__init__.py"]]
    assert alpha[1]["stars"] == 5 and alpha[1]["source"] == "git" and alpha[1]["license"] == "MIT"
    assert alpha[1]["text"].startswith("# pkg/util.py\nX = 1\n")
    assert stats["files_no_content"] == 1 and stats["repos"] == 3 and stats["samples"] == len(rows)


def test_rows_shuffled_within_repos_give_identical_bytes(tmp_path):
    rows = sorted(_rows(), key=lambda r: r["repo"])
    outputs = []
    for seed in (1, 2, 3):
        rnd = random.Random(seed)
        shuffled = []
        for repo in sorted({r["repo"] for r in rows}):  # a partition is grouped by repo; file order is free
            group = [r for r in rows if r["repo"] == repo]
            rnd.shuffle(group)
            shuffled += group
        _write(shuffled, tmp_path / f"in{seed}.parquet")
        order_shard(tmp_path / f"in{seed}.parquet", tmp_path / f"out{seed}.parquet", Config())
        outputs.append((tmp_path / f"out{seed}.parquet").read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_a_partition_not_grouped_by_repo_is_a_clear_error(tmp_path):
    rows = sorted(_rows(), key=lambda r: r["repo"])
    repos = sorted({r["repo"] for r in rows})
    assert len(repos) >= 2
    first = [r for r in rows if r["repo"] == repos[0]]
    interleaved = first[:1] + [r for r in rows if r["repo"] != repos[0]] + first[1:]
    assert len(first) >= 2
    _write(interleaved, tmp_path / "in.parquet")
    with pytest.raises(ValueError, match="not contiguous"):
        order_shard(tmp_path / "in.parquet", tmp_path / "out.parquet", Config())
    assert not (tmp_path / "out.parquet").exists()  # nothing half-written


def test_empty_shard_writes_empty_table(tmp_path):
    write_parquet(pa.Table.from_pylist([], schema=pa.schema([("repo", pa.string()), ("path", pa.string()),
                                                                ("content", pa.string())])), tmp_path / "in.parquet")
    stats = order_shard(tmp_path / "in.parquet", tmp_path / "out.parquet", Config())
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 0 and stats["samples"] == 0


def test_too_large_file_is_isolated_and_counted():
    big = "import a\n" + "x = 1\n" * 200
    samples, stats = run({"a.py": "", "big.py": big, "c.py": "import big\nimport a\n"}, lang="Python",
                         cfg=Config(max_parse_bytes=500))
    assert ["big.py"] in samples and ["a.py", "c.py"] in samples
    assert stats["files_too_large"] == 1


def test_parse_timeout_is_a_counted_reason_not_a_crash():
    huge = "".join(f"def f{i}(x):\n    return [y for y in range(x) if y % 3]\n" for i in range(40_000))
    samples, stats = run({"a.py": "", "slow.py": "import a\n" + huge, "b.py": "import a\n"}, lang="Python",
                         cfg=Config(max_parse_bytes=10_000_000, parse_timeout_ms=1))
    assert stats["parse_failures"] == {"timeout": 1}
    assert ["slow.py"] in samples and ["a.py", "b.py"] in samples


def test_extract_error_is_a_counted_reason(monkeypatch):
    import tasks.order.repo as repo_mod

    def boom(key, tree, source):
        if b"boom" in source:
            raise RecursionError("too deep")
        from tasks.order.extract import extract_tree
        return extract_tree(key, tree, source)

    monkeypatch.setattr(repo_mod, "extract_tree", boom)
    samples, stats = run({"a.py": "", "b.py": "import a  # boom\n", "c.py": "import a\n"}, lang="Python")
    assert stats["parse_failures"] == {"extract_error": 1}
    assert ["b.py"] in samples and ["a.py", "c.py"] in samples


def test_max_sample_bytes_splits_in_order():
    files = {f"m{i}.py": (f"import m{i - 1}\n" if i else "") + "#" * 80 + "\n" for i in range(6)}
    whole, _ = run(files, lang="Python")
    chunks, stats = run(files, lang="Python", cfg=Config(max_sample_bytes=250))
    assert whole == [[f"m{i}.py" for i in range(6)]]
    assert [p for c in chunks for p in c] == whole[0]
    assert len(chunks) == 3 and stats["samples_from_split"] == 2
    rows, _ = run({"solo.py": "#" * 1000}, lang="Python", cfg=Config(max_sample_bytes=10))
    assert rows == [["solo.py"]]  # a file bigger than the limit is its own sample, never cut


def test_aggregate_metrics(tmp_path):
    rows = _rows()
    half = [r for r in rows if r["repo"] != "pypi/beta@1.0"], [r for r in rows if r["repo"] == "pypi/beta@1.0"]
    parts = []
    for i, part in enumerate(half):
        _write(part, tmp_path / f"in{i}.parquet")
        parts.append(order_shard(tmp_path / f"in{i}.parquet", tmp_path / f"out{i}.parquet", Config()))
    m = aggregate(parts)
    assert m["shards"] == 2 and m["repos"] == 3
    assert m["languages"]["Python"]["deps_found"] == 3 and m["languages"]["Python"]["deps_resolved"] == 2
    assert m["languages"]["Python"]["resolution_rate"] == round(2 / 3, 4)
    assert m["languages"]["Go"]["deps_external"] == 1 and m["languages"]["Go"]["resolution_rate"] == 0.0
    assert m["edges"] == 2 + 2 and m["deps_found"] == 3 + 1 + 1 + 1
    sizes = sorted(pq.read_table(tmp_path / "out0.parquet")["size"].to_pylist()
                   + pq.read_table(tmp_path / "out1.parquet")["size"].to_pylist())
    assert m["samples"] == len(sizes) == 5
    assert m["sample_bytes"]["max"] == sizes[-1] and m["sample_bytes"]["total"] == sum(sizes)
    # quantiles come from a log histogram (bins 2**(1/8) wide): the nearest-rank value within ~9%
    assert abs(m["sample_bytes"]["p50"] - sizes[2]) <= 0.09 * sizes[2] + 1
    assert sum(v["files"] for v in m["mix"].values()) == sum(len(r["files"]) for r in pq.read_table(
        tmp_path / "out0.parquet").to_pylist() + pq.read_table(tmp_path / "out1.parquet").to_pylist())
    assert m["files_per_sample_hist"] == {"1": 2, "2": 2, "3-4": 1}
    assert m["samples_multi_file"] == 3 and m["files_in_multi_file_samples"] == 7
    assert "python" in m["languages_with_grammar"] and "lua" in m["languages_regex_only"]


@pytest.mark.parametrize("section,message", [
    ({"max_parse_bytes": 0}, "order.max_parse_bytes: must be > 0"),
    ({"parse_timeout_ms": -5}, "order.parse_timeout_ms: must be > 0"),
    ({"max_sample_bytes": "big"}, "order.max_sample_bytes: expected int"),
    ({"parse_timeout_ms": True}, "order.parse_timeout_ms: expected int"),
    ({"max_bytes": 3}, "order.max_bytes: unknown key"),
])
def test_config_errors_name_the_key(section, message):
    from tasks.common.params import ParamError
    from tasks.order import config_from_params

    with pytest.raises(ParamError, match="^" + message.replace(".", r"\.")):
        config_from_params(section)


def test_config_defaults_and_values():
    from tasks.order import config_from_params

    assert config_from_params({}) == Config()
    cfg = config_from_params({"max_parse_bytes": 10, "parse_timeout_ms": 20, "max_sample_bytes": None})
    assert (cfg.max_parse_bytes, cfg.parse_timeout_ms, cfg.max_sample_bytes) == (10, 20, None)
    assert config_from_params({"max_sample_bytes": 4096}).max_sample_bytes == 4096


def test_go_mod_from_raw_shard_when_filter_dropped_it(tmp_path):
    base = {"repo": "local/tool", "source": "local", "stars": None, "license": None, "version": None}
    filtered = [{**base, "path": "util/u.go", "lang": "Go", "content": "package util\n"},
                {**base, "path": "main.go", "lang": "Go", "content": "package main\nimport \"tool/util\"\n"}]
    raw = filtered + [{**base, "path": "go.mod", "lang": None, "content": "module tool\n"},
                      {**base, "path": "docs/go.mod.txt", "lang": None, "content": "module wrong\n"}]
    _write(filtered, tmp_path / "filtered.parquet")
    _write(raw, tmp_path / "raw.parquet")
    order_shard(tmp_path / "filtered.parquet", tmp_path / "alone.parquet", Config())
    order_shard(tmp_path / "filtered.parquet", tmp_path / "with_raw.parquet", Config(), raw_path=tmp_path / "raw.parquet")
    alone = pq.read_table(tmp_path / "alone.parquet")["files"].to_pylist()
    with_raw = pq.read_table(tmp_path / "with_raw.parquet")["files"].to_pylist()
    assert alone == [["main.go"], ["util/u.go"]]  # `tool/util` looks like the standard library
    assert with_raw == [["util/u.go", "main.go"]]
