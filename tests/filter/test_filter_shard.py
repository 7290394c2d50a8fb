"""filter_shard on a tiny generated data/raw shard: outputs, contracts, determinism, metrics."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.common.io import write_parquet
from tasks.filter import Config, aggregate, filter_shard
from tasks.filter.shard import DECISIONS_SCHEMA

RAW_SCHEMA = pa.schema([
    ("repo", pa.string()), ("source", pa.string()), ("path", pa.string()), ("lang", pa.string()),
    ("size", pa.int64()), ("sha256", pa.string()), ("is_binary", pa.bool_()), ("content", pa.string()),
    ("skip_reason", pa.string()), ("stars", pa.int64()), ("created_at", pa.string()),
    ("license", pa.string()), ("version", pa.string()),
])
CFG = Config(supported_languages=("Python", "JSON", "HTML", "Go"))
GOOD_PY = "def f(x):\n    return x + 1\n" * 5
GOOD_GO = "package main\n\nfunc main() {}\n"


def raw_rows(repo: str) -> list[dict]:
    files = [  # (path, lang, content, skip_reason, is_binary)
        ("a.py", "Python", GOOD_PY, None, False),
        ("b.py", "Python", "x" * 150 + "\n", None, False),
        ("c.bin", None, None, "binary", True),
        ("d.json", "JSON", '{"name": "value"}', None, False),
        ("e.go", "Go", GOOD_GO, None, False),
        ("f.txt", None, "just some words here\n", None, False),
        ("g.py", "Python", "é_var = name\n" * 10, None, False),
    ]
    rows = []
    for path, lang, content, skip, binary in files:
        size = len(content.encode()) if content is not None else 4096
        rows.append({"repo": repo, "source": "local", "path": path, "lang": lang, "size": size,
                     "sha256": "0" * 64, "is_binary": binary, "content": content, "skip_reason": skip,
                     "stars": 3, "created_at": None, "license": "MIT", "version": None})
    return rows


def write_raw(path, repos):
    rows = [r for repo in repos for r in raw_rows(repo)]
    write_parquet(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), path)
    return rows


def test_filter_shard_outputs_and_stats(tmp_path):
    rows = write_raw(tmp_path / "raw.parquet", ["local/a", "local/b"])
    stats = filter_shard(str(tmp_path / "raw.parquet"), str(tmp_path / "kept.parquet"),
                         str(tmp_path / "dec.parquet"), CFG)

    kept = pq.read_table(tmp_path / "kept.parquet")
    assert kept.schema == RAW_SCHEMA
    assert [(r["repo"], r["path"]) for r in kept.to_pylist()] == [
        (repo, p) for repo in ("local/a", "local/b") for p in ("a.py", "e.go", "g.py")]

    dec = pq.read_table(tmp_path / "dec.parquet")
    assert dec.schema == DECISIONS_SCHEMA
    got = {(r["repo"], r["path"]): (r["kept"], r["reason"]) for r in dec.to_pylist()}
    assert len(got) == len(rows)
    assert got["local/a", "b.py"] == (False, "avg_line_length")
    assert got["local/a", "c.bin"] == (False, "binary")
    assert got["local/a", "d.json"] == (False, "json_yaml_size")
    assert got["local/a", "f.txt"] == (False, "unsupported_language")
    assert got["local/b", "g.py"] == (True, None)

    size = {r["path"]: r["size"] for r in rows}
    kept_bytes = 2 * (size["a.py"] + size["e.go"] + size["g.py"])
    assert stats["files_in"] == 14 and stats["files_kept"] == 6
    assert stats["bytes_in"] == 2 * sum(size.values()) and stats["bytes_kept"] == kept_bytes
    assert stats["drops"]["binary"] == {"files": 2, "bytes": 2 * 4096}
    assert stats["by_language"]["(unknown)"]["files_in"] == 4
    json.dumps(stats)  # plain JSON for the flow


def test_filter_shard_is_byte_deterministic(tmp_path):
    write_raw(tmp_path / "raw.parquet", ["local/a"])
    outs = []
    for run in ("1", "2"):
        filter_shard(str(tmp_path / "raw.parquet"), str(tmp_path / f"k{run}.parquet"),
                     str(tmp_path / f"d{run}.parquet"), CFG)
        outs.append(((tmp_path / f"k{run}.parquet").read_bytes(), (tmp_path / f"d{run}.parquet").read_bytes()))
    assert outs[0] == outs[1]


def test_empty_shard(tmp_path):
    write_parquet(RAW_SCHEMA.empty_table(), tmp_path / "raw.parquet")
    stats = filter_shard(str(tmp_path / "raw.parquet"), str(tmp_path / "k.parquet"), str(tmp_path / "d.parquet"), CFG)
    assert stats["files_in"] == 0 and pq.read_table(tmp_path / "k.parquet").num_rows == 0
    assert pq.read_table(tmp_path / "d.parquet").schema == DECISIONS_SCHEMA


def test_aggregate_metrics(tmp_path):
    stats = []
    for i, repos in enumerate((["local/a"], ["local/b", "local/c"])):
        write_raw(tmp_path / f"raw{i}.parquet", repos)
        stats.append(filter_shard(str(tmp_path / f"raw{i}.parquet"), str(tmp_path / f"k{i}.parquet"),
                                  str(tmp_path / f"d{i}.parquet"), CFG))
    m = aggregate(stats)
    assert m["files_in"] == 21 and m["files_kept"] == 9 and m["shards"] == 2
    assert m["pass_rate_files"] == round(9 / 21, 6)
    assert m["pass_rate_bytes"] == round(m["bytes_kept"] / m["bytes_in"], 6)
    assert sum(d["files"] for d in m["drops"].values()) == 12
    assert sum(d["bytes"] for d in m["drops"].values()) == m["bytes_in"] - m["bytes_kept"]
    assert set(m["language_share_kept"]) == {"Python", "Go"}
    assert abs(sum(m["language_share_kept"].values()) - 1) < 1e-5
    py = m["by_language"]["Python"]
    assert py["pass_rate_bytes"] == round(py["bytes_kept"] / py["bytes_in"], 6)
    reordered = aggregate(stats[::-1])
    assert {k: v for k, v in reordered.items() if k not in ("seconds", "throughput_mb_s")} == \
        {k: v for k, v in m.items() if k not in ("seconds", "throughput_mb_s")}
    assert aggregate([])["pass_rate_bytes"] == 0.0


def test_gate_checks_tables_from_metrics(tmp_path):
    from tasks.filter import gate_checks

    write_raw(tmp_path / "raw.parquet", ["local/a"])
    m = aggregate([filter_shard(str(tmp_path / "raw.parquet"), str(tmp_path / "k.parquet"),
                                str(tmp_path / "d.parquet"), CFG)])
    checks = dict((name, (table, exps)) for name, table, exps in gate_checks(m, CFG))
    rates, _ = checks["filter_pass_rate"]
    assert rates.to_dict("records")[0]["pass_rate_bytes"] == m["pass_rate_bytes"]
    shares, exps = checks["filter_language_mix"]
    assert dict(zip(shares["lang"], shares["share"])) == m["language_share_kept"]
    in_set = [e for e in exps if e["type"] == "expect_column_values_to_be_in_set"][0]
    assert in_set["kwargs"]["value_set"] == sorted(CFG.supported_languages)
