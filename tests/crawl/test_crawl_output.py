from __future__ import annotations

import hashlib
import json

import pyarrow.parquet as pq
import pytest
from crawl_testutil import make_tar

from tasks.common.io import list_shards
from tasks.common.jobs import run_locally
from tasks.crawl.config import Config
from tasks.crawl.crawl import RAW_SCHEMA, aggregate, crawl_source, summarise_source
from tasks.crawl.plan import run_crawl

CFG = Config(retries=0)


def _local(tmp_path, name: str, files: dict[str, bytes]) -> dict:
    root = tmp_path / "src" / name
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return {"type": "local", "path": str(root)}


@pytest.fixture
def specs(tmp_path):
    specs = [
        _local(tmp_path, f"proj{i}", {"main.py": f"print({i})\n".encode(), "lib/util.js": b"export const x = 1;\n",
                                      "logo.png": b"\x89PNG\x00\x00", "notes.txt": "ünïcode".encode("latin-1")})
        for i in range(5)
    ]
    specs.append({"type": "local", "path": str(tmp_path / "does-not-exist")})
    return specs


@pytest.fixture
def results(specs, tmp_path):
    return [summarise_source(crawl_source(s, CFG, str(tmp_path / "cache"))) for s in specs]


def crawl_into(out, specs, cfg=CFG, target=1 << 20, least=4, cache=None):
    """The crawl stage's partition jobs, run here (the flow runs the same on its task runner)."""
    out.mkdir(parents=True, exist_ok=True)
    return run_crawl(specs, cfg, out, target_bytes=target, min_partitions=least,
                     cache=str(cache or out.parent / "partitions"), runner=run_locally)


def test_partitions_schema_order_and_whole_repos(specs, tmp_path):
    out = tmp_path / "raw"
    run = crawl_into(out, specs)
    assert run.partitions >= 2  # a small corpus still gets several partitions (min_partitions)
    shards = list_shards(out)
    assert [p.name for p in shards] == [f"part-{i:05d}.parquet" for i in range(run.partitions)]
    rows = []
    seen_in: dict[str, int] = {}
    for i, path in enumerate(shards):
        table = pq.read_table(path)
        assert table.schema.equals(RAW_SCHEMA)
        part = table.to_pylist()
        assert part == sorted(part, key=lambda r: (r["repo"], r["path"]))
        for r in part:
            assert seen_in.setdefault(r["repo"], i) == i  # a repository is never split
        rows += part
    assert len(rows) == 20
    assert rows == sorted(rows, key=lambda r: (r["repo"], r["path"]))  # partitions cut the sorted repo list
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


def test_partitions_are_byte_identical_whatever_the_order_and_the_cache(specs, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    crawl_into(a, specs)
    crawl_into(b, list(reversed(specs)))  # source order (and worker completion order) must not matter
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for name in sorted(p.name for p in a.iterdir()):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    again = crawl_into(a, specs)  # a rerun reuses every committed source and partition
    assert again.fetched.reused == len(specs) and again.written.computed == 0


def test_one_partition_when_asked(specs, tmp_path):
    run = crawl_into(tmp_path / "raw", specs, least=1)
    assert run.partitions == 1 and len(list_shards(tmp_path / "raw")) == 1


def test_empty_crawl_writes_the_tables(tmp_path):
    run = crawl_into(tmp_path / "raw", [])
    assert run.partitions == 0 and list_shards(tmp_path / "raw") == []
    assert pq.read_table(tmp_path / "raw" / "quarantine.parquet").num_rows == 0


def test_aggregate_counts(results):
    m = aggregate(results)
    assert m["repos"] == 5 and m["repos_failed"] == 1 and m["files"] == 20
    assert m["by_language"]["Python"] == {"files": 5, "bytes": 5 * 9}
    assert m["by_language"]["JavaScript"]["files"] == 5 and m["by_language"]["unknown"]["files"] == 10
    assert m["skipped"] == {"binary": 5, "invalid_utf8": 5}
    assert m["text_files"] == 10 and m["languages"] == 2
    assert m["bytes"] == sum(r["bytes"] for r in results)
    assert m["failures"][0]["repo"] == "local/does-not-exist"
    json.dumps(m)  # plain JSON


def test_duplicate_sources_are_kept_once(specs, tmp_path):
    run = crawl_into(tmp_path / "raw", specs + [specs[0]])
    m = aggregate(run.fetched.summaries)
    assert m["repos"] == 5 and any("duplicate" in f["error"] for f in m["failures"])
    assert sum(pq.read_table(p).num_rows for p in list_shards(tmp_path / "raw")) == 20


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


def test_a_repo_over_a_cap_is_dropped_with_its_reason_by_default(tmp_path):
    spec = _local(tmp_path, "capped", {f"f{i}.py": b"x = 1\n" for i in range(6)})
    run = crawl_into(tmp_path / "raw", [spec], Config(max_archive_members=4))
    m = aggregate(run.fetched.summaries)
    assert m["repos"] == 0 and m["truncated"]["dropped"] == 1
    assert m["failures"][0]["error"].startswith("truncated: too_many_members after 4 files")
    assert run.quarantine[0]["repo"] == "local/capped"


def test_a_repo_over_a_cap_kept_when_asked_is_flagged_never_silently_cut(tmp_path):
    spec = _local(tmp_path, "capped", {f"f{i}.py": b"x = 1\n" for i in range(6)})
    run = crawl_into(tmp_path / "raw", [spec], Config(max_archive_members=4, on_truncated="keep"))
    rejected = pq.read_table(tmp_path / "raw" / "rejected.parquet").to_pylist()
    assert rejected == [{"repo": "local/capped", "member": "f4.py", "reason": "too_many_members"}]
    m = aggregate(run.fetched.summaries)
    assert m["rejected"] == {"too_many_members": 1} and m["files"] == 4
    assert m["truncated"] == {"kept": 1, "dropped": 0, "repos": [
        {"repo": "local/capped", "reason": "too_many_members", "files_read": 4, "bytes_read": 24}]}
