from __future__ import annotations

import hashlib
import json

import pyarrow.parquet as pq
import pytest
from crawl_testutil import make_tar

from tasks.common.hashing import shard_of
from tasks.common.io import list_shards
from tasks.crawl.config import Config
from tasks.crawl.crawl import RAW_SCHEMA, aggregate, crawl_source, write_raw

CFG = Config(retries=0)


def _local(tmp_path, name: str, files: dict[str, bytes]) -> dict:
    root = tmp_path / "src" / name
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return {"type": "local", "path": str(root)}


@pytest.fixture
def results(tmp_path):
    specs = [
        _local(tmp_path, f"proj{i}", {"main.py": f"print({i})\n".encode(), "lib/util.js": b"export const x = 1;\n",
                                      "logo.png": b"\x89PNG\x00\x00", "notes.txt": "ünïcode".encode("latin-1")})
        for i in range(5)
    ]
    specs.append({"type": "local", "path": str(tmp_path / "does-not-exist")})
    return [crawl_source(s, CFG, str(tmp_path / "cache")) for s in specs]


def test_write_raw_shards_schema_order_and_placement(results, tmp_path):
    out = tmp_path / "raw"
    summary = write_raw(results, str(out), 4)
    assert summary == {"shards": 4, "rows": 20, "rejected": 0, "quarantined": 1}
    shards = list_shards(out)
    assert [p.name for p in shards] == [f"part-{i:05d}.parquet" for i in range(4)]
    total = 0
    for i, path in enumerate(shards):
        table = pq.read_table(path)
        assert table.schema.equals(RAW_SCHEMA)  # empty shards too
        rows = table.to_pylist()
        total += len(rows)
        assert rows == sorted(rows, key=lambda r: (r["repo"], r["path"]))
        assert all(shard_of(r["repo"], 4) == i for r in rows)
    assert total == 20
    rows = pq.read_table(out / "part-00000.parquet").to_pylist() + \
        [r for p in shards[1:] for r in pq.read_table(p).to_pylist()]
    by_path = {(r["repo"], r["path"]): r for r in rows}
    png = by_path[("local/proj0", "logo.png")]
    assert png["is_binary"] and png["content"] is None and png["skip_reason"] == "binary"
    assert by_path[("local/proj0", "notes.txt")]["skip_reason"] == "invalid_utf8"
    main = by_path[("local/proj3", "main.py")]
    assert main["content"] == "print(3)\n" and main["sha256"] == hashlib.sha256(b"print(3)\n").hexdigest()
    quarantine = pq.read_table(out / "quarantine.parquet").to_pylist()
    assert len(quarantine) == 1 and quarantine[0]["repo"] == "local/does-not-exist"
    assert json.loads(quarantine[0]["spec"])["type"] == "local" and "not a directory" in quarantine[0]["error"]
    assert pq.read_table(out / "rejected.parquet").num_rows == 0


def test_write_raw_is_byte_identical_and_drops_stale_shards(results, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_raw(results, str(a), 8)
    write_raw(list(reversed(results)), str(b), 8)  # worker completion order must not matter
    for name in sorted(p.name for p in a.iterdir()):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    write_raw(results, str(a), 2)
    assert [p.name for p in list_shards(a)] == ["part-00000.parquet", "part-00001.parquet"]


def test_empty_results_still_write_every_shard(tmp_path):
    write_raw([], str(tmp_path / "raw"), 3)
    shards = list_shards(tmp_path / "raw")
    assert len(shards) == 3 and all(pq.read_table(p).schema.equals(RAW_SCHEMA) for p in shards)
    assert pq.read_table(tmp_path / "raw" / "quarantine.parquet").num_rows == 0


def test_aggregate_counts(results):
    m = aggregate(results)
    assert m["repos"] == 5 and m["repos_failed"] == 1 and m["files"] == 20
    assert m["by_language"]["Python"] == {"files": 5, "bytes": 5 * 9}
    assert m["by_language"]["JavaScript"]["files"] == 5 and m["by_language"]["unknown"]["files"] == 10
    assert m["skipped"] == {"binary": 5, "invalid_utf8": 5}
    assert m["text_files"] == 10 and m["languages"] == 2
    assert m["bytes"] == sum(r["size"] for res in results for r in res["rows"])
    assert m["failures"][0]["repo"] == "local/does-not-exist"
    json.dumps(m)  # plain JSON


def test_duplicate_sources_are_kept_once(results, tmp_path):
    m = aggregate(results + [results[0]])
    assert m["repos"] == 5 and any("duplicate" in f["error"] for f in m["failures"])
    summary = write_raw(results + [results[0]], str(tmp_path / "raw"), 2)
    assert summary["rows"] == 20


def test_no_exception_escapes_crawl_source(tmp_path, monkeypatch):
    assert crawl_source({"type": "nope"}, CFG, str(tmp_path))["error"].startswith("ParamError")
    assert crawl_source("not a dict", CFG, str(tmp_path))["error"]  # type: ignore[arg-type]
    broken = make_tar({"p-1.0/a.py": bytes(range(256)) * 40})[:300]  # a truncated sdist, hash published as-is
    index = tmp_path / "simple" / "p"
    index.mkdir(parents=True)
    (index / "p-1.0.tar.gz").write_bytes(broken)
    (index / "index.html").write_text(
        f'<a href="p-1.0.tar.gz#sha256={hashlib.sha256(broken).hexdigest()}">p-1.0.tar.gz</a>')
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    res = crawl_source({"type": "pypi", "name": "p", "version": "1.0"}, CFG, str(tmp_path / "cache"))
    assert res["repo"] == "pypi/p@1.0" and res["rows"] == [] and res["error"].startswith("ArchiveError")


def test_rejected_members_and_caps_reach_the_table(tmp_path):
    spec = _local(tmp_path, "capped", {f"f{i}.py": b"x = 1\n" for i in range(6)})
    cfg = Config(max_archive_members=4)
    res = crawl_source(spec, cfg, str(tmp_path / "cache"))
    assert len(res["rows"]) == 4 and [r["reason"] for r in res["rejected"]] == ["too_many_members"]
    write_raw([res], str(tmp_path / "raw"), 1)
    rejected = pq.read_table(tmp_path / "raw" / "rejected.parquet").to_pylist()
    assert rejected == [{"repo": "local/capped", "member": "f4.py", "reason": "too_many_members"}]
    assert aggregate([res])["rejected"] == {"too_many_members": 1}
