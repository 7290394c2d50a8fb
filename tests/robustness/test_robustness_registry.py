"""Registry faults across several sources in one crawl: a local PEP 691 index and an npm-style registry on
127.0.0.1 answer 5xx, 429 + Retry-After, connection resets, stalls and a truncated archive. Transient faults
are retried with backoff within a bounded time; what keeps failing is quarantined with its reason
(quarantine.parquet) and the crawl finishes. (Single-fault fetch tests live in tests/crawl.)"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crawl"))
from crawl_testutil import Reply, ScriptedServer, make_tar  # noqa: E402

from tasks.crawl import sources  # noqa: E402
from tasks.crawl.config import Config  # noqa: E402
from tasks.common.jobs import run_locally  # noqa: E402
from tasks.crawl.crawl import crawl_source  # noqa: E402
from tasks.crawl.plan import run_crawl  # noqa: E402


def _sdist(name: str) -> bytes:
    mod = name.replace("-", "_")
    return make_tar({f"{mod}-1.0/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
                     f"{mod}-1.0/{mod}/core.py": b"def f():\n    return 1\n"})


def _pypi(server: ScriptedServer, name: str, index: list[Reply], file_replies: list[Reply] | None = None) -> None:
    blob = _sdist(name)
    fname = f"{name.replace('-', '_')}-1.0.tar.gz"
    doc = {"meta": {"api-version": "1.1"}, "name": name, "files": [
        {"filename": fname, "url": f"/files/{fname}", "hashes": {"sha256": hashlib.sha256(blob).hexdigest()}}]}
    ok = Reply(200, json.dumps(doc).encode(), headers={"Content-Type": "application/vnd.pypi.simple.v1+json"})
    server.add(f"/simple/{name}/", *index, ok)
    server.add(f"/files/{fname}", *(file_replies or []), *([Reply(200, blob)] if file_replies is None else []))


def _npm(server: ScriptedServer, name: str, meta: list[Reply]) -> None:
    tarball = make_tar({"package/index.js": b"module.exports = 1;\n"})
    dist = {"tarball": server.url + f"/{name}/-/{name}-1.0.0.tgz", "shasum": hashlib.sha1(tarball).hexdigest()}
    ok = Reply(200, json.dumps({"name": name, "version": "1.0.0", "dist": dist}).encode())
    server.add(f"/{name}/1.0.0", *meta, *([ok] if not meta or meta[-1].status < 500 and meta[-1].mode != "stall" else []))
    server.add(f"/{name}/-/{name}-1.0.0.tgz", Reply(200, tarball))


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    srv = ScriptedServer()
    srv.thread.start()
    monkeypatch.setenv("PIP_INDEX_URL", srv.url + "/simple")
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", srv.url + "/")
    sources.pip_index_url.cache_clear()
    sources.npm_registry_url.cache_clear()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        sources.pip_index_url.cache_clear()
        sources.npm_registry_url.cache_clear()


def test_faulty_registries_retry_then_quarantine(registry: ScriptedServer, tmp_path: Path) -> None:
    srv = registry
    _pypi(srv, "flaky-a", [Reply(503), Reply(429, headers={"Retry-After": "1"})])           # recovers
    _npm(srv, "reset-lib", [Reply(mode="reset")])                                             # recovers
    _pypi(srv, "dead-pkg", [Reply(500)] * 10)                                                 # always 500
    _npm(srv, "stall-lib", [Reply(200, b"{}", mode="stall", delay=3.0)])                     # always stalls
    _pypi(srv, "trunc-pkg", [], [Reply(200, _sdist("trunc-pkg"), mode="truncate")])           # truncated archive
    cfg = Config(retries=2, backoff_base_s=0.05, backoff_max_s=0.2, timeout_s=0.5, max_fetch_s=8.0, seed=0)
    specs = [{"type": "pypi", "name": n, "version": "1.0"} for n in ("flaky-a", "dead-pkg", "trunc-pkg")] + \
            [{"type": "npm", "name": n, "version": "1.0.0"} for n in ("reset-lib", "stall-lib")]
    started = time.monotonic()
    results = [crawl_source(spec, cfg, str(tmp_path / "cache")) for spec in specs]
    elapsed = time.monotonic() - started
    assert elapsed < 5 * cfg.max_fetch_s  # every source bounded by max_fetch_s
    by_repo = {r["repo"]: r for r in results}
    assert by_repo["pypi/flaky-a@1.0"]["error"] is None and by_repo["pypi/flaky-a@1.0"]["rows"]
    assert srv.hits("/simple/flaky-a/") == 3  # 503, 429, then the answer
    assert by_repo["npm/reset-lib@1.0.0"]["error"] is None and by_repo["npm/reset-lib@1.0.0"]["rows"]
    assert srv.hits("/dead-pkg/") == 0 and srv.hits("/simple/dead-pkg/") == cfg.retries + 1

    (tmp_path / "raw").mkdir()
    run = run_crawl(specs, cfg, tmp_path / "raw", target_bytes=1 << 20, min_partitions=2,
                    cache=str(tmp_path / "partitions"), runner=run_locally)  # the stage's jobs, from the cache
    quarantine = pq.read_table(tmp_path / "raw" / "quarantine.parquet").to_pylist()
    assert len(run.quarantine) == 3
    reasons = {q["repo"]: q["error"] for q in quarantine}
    assert set(reasons) == {"pypi/dead-pkg@1.0", "pypi/trunc-pkg@1.0", "npm/stall-lib@1.0.0"}
    assert "500" in reasons["pypi/dead-pkg@1.0"]
    assert all(reasons.values())
    repos = {r for shard in sorted((tmp_path / "raw").glob("part-*.parquet"))
             for r in pq.read_table(shard, columns=["repo"]).column("repo").to_pylist()}
    assert repos == {"pypi/flaky-a@1.0", "npm/reset-lib@1.0.0"}
