"""Sources that move: a git branch is fetched at each crawl, `version: latest` is asked of the registry,
each resolved to a pin recorded in data/raw/snapshot.json; a replay of a snapshot is byte-identical, and
two snapshots name what changed."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from crawl_testutil import Reply, git, git_repo_with, make_tar

from tasks.common.jobs import run_locally
from tasks.crawl.config import Config
from tasks.crawl.plan import run_crawl
from tasks.crawl.resolve import delta, is_pinned, read_snapshot


def crawl(out: Path, specs: list[dict], cfg: Config) -> object:
    out.mkdir(parents=True)
    return run_crawl(specs, cfg, out, target_bytes=1 << 20, min_partitions=1, cache=str(out.parent / "parts"),
                     runner=run_locally)


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_pinned_specs_need_no_resolution() -> None:
    assert is_pinned({"type": "pypi", "name": "x", "version": "1.0"})
    assert not is_pinned({"type": "npm", "name": "x", "version": "latest"})
    assert is_pinned({"type": "git", "url": "u", "rev": "a" * 40})
    assert not is_pinned({"type": "git", "url": "u", "rev": "main"})
    assert not is_pinned({"type": "git", "url": "u"})
    assert not is_pinned({"type": "git", "url": "u", "rev": "a" * 40, "before": "2023-01-01"})


def test_a_branch_is_fetched_each_night_and_a_snapshot_replays_byte_identical(tmp_path: Path) -> None:
    repo, first = git_repo_with(tmp_path / "origin", {"a.py": b"x = 1\n"})
    spec = {"type": "git", "url": str(repo), "rev": "main", "name": "team/app"}
    cfg = Config(retries=0, cache_dir=str(tmp_path / "cache"))

    night1 = crawl(tmp_path / "n1" / "raw", [spec], cfg)
    snap1 = read_snapshot(tmp_path / "n1" / "raw" / "snapshot.json")
    assert snap1 == [{"requested": spec, "resolved": {**spec, "rev": first}}]
    assert night1.fetched.summaries[0]["repo"] == f"git/team/app@{first[:12]}"

    (repo / "a.py").write_bytes(b"x = 2\n")          # the branch moves
    git(repo, "commit", "-qam", "next", date="2022-07-01T12:00:00+00:00")
    second = git(repo, "rev-parse", "HEAD")
    crawl(tmp_path / "n2" / "raw", [spec], cfg)     # same cache: the mirror must be fetched to see it
    snap2 = read_snapshot(tmp_path / "n2" / "raw" / "snapshot.json")
    assert snap2[0]["resolved"]["rev"] == second
    assert delta(snap1, snap2) == {"previous": True, "added": [], "removed": [],
                                   "changed": [{"source": "git/team/app", "from": first, "to": second}]}

    replay = Config(retries=0, cache_dir=str(tmp_path / "cache"), snapshot=str(tmp_path / "n1/raw/snapshot.json"))
    crawl(tmp_path / "replay" / "raw", [spec], replay)
    assert _files(tmp_path / "replay" / "raw") == _files(tmp_path / "n1" / "raw")


def test_latest_versions_come_from_the_registries(tmp_path: Path, server, monkeypatch: pytest.MonkeyPatch) -> None:
    tars = {v: make_tar({f"pkg-{v}/pkg/__init__.py": f"VERSION = '{v}'\n".encode()}) for v in ("1.0", "1.2", "2.0rc1")}
    links = "".join(f'<a href="/files/pkg-{v}.tar.gz#sha256={hashlib.sha256(t).hexdigest()}">pkg-{v}.tar.gz</a>'
                    for v, t in tars.items())
    server.add("/simple/pkg/", Reply(200, links.encode(), headers={"Content-Type": "text/html"}))
    for v, t in tars.items():
        server.add(f"/files/pkg-{v}.tar.gz", Reply(200, t))
    npm_tar = make_tar({"package/index.js": b"module.exports = 3;\n"})
    server.add("/left-pad", Reply(200, json.dumps({"dist-tags": {"latest": "3.0.0"}}).encode()))
    server.add("/left-pad/3.0.0", Reply(200, json.dumps({"dist": {"tarball": f"{server.url}/lp.tgz"}}).encode()))
    server.add("/lp.tgz", Reply(200, npm_tar))
    monkeypatch.setenv("PIP_INDEX_URL", f"{server.url}/simple")
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", server.url)
    specs = [{"type": "pypi", "name": "pkg", "version": "latest"}, {"type": "npm", "name": "left-pad", "version": "latest"}]
    run = crawl(tmp_path / "raw", specs, Config(retries=0, cache_dir=str(tmp_path / "cache")))
    resolved = {e["requested"]["name"]: e["resolved"]["version"] for e in read_snapshot(tmp_path / "raw/snapshot.json")}
    assert resolved == {"pkg": "1.2", "left-pad": "3.0.0"}  # the highest final release; npm's latest tag
    assert sorted(s["repo"] for s in run.fetched.summaries) == ["npm/left-pad@3.0.0", "pypi/pkg@1.2"]


def test_an_unresolvable_source_is_quarantined_not_fatal(tmp_path: Path) -> None:
    spec = {"type": "git", "url": str(tmp_path / "nowhere"), "rev": "main"}
    run = crawl(tmp_path / "raw", [spec], Config(retries=0, cache_dir=str(tmp_path / "cache")))
    assert run.quarantine[0]["error"].startswith("unresolvable: SourceError")
    assert read_snapshot(tmp_path / "raw/snapshot.json")[0]["resolved"] is None
