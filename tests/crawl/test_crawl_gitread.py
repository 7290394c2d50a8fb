"""The git reader: tree listing + one cat-file, missing blobs recorded, partial clones never fetched from."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from crawl_testutil import git, git_repo_with

from tasks.crawl import sources
from tasks.crawl.config import Config
from tasks.crawl.crawl import crawl_source
from tasks.crawl.extract import Limits, Rejection, iter_archive
from tasks.crawl.gitread import read_commit

LIMITS = Limits(max_members=100, max_file_bytes=1000, max_total_bytes=100_000)
FILES = {
    "a.py": b"print('hi')\n",
    "lib/deep/b.go": b"package deep\n",
    "docs/\u00fcber.md": "# \u00fcber\n".encode(),
    "bin/tool.sh": b"#!/bin/sh\necho ok\n",
    "data.bin": bytes(range(256)) * 2,
    "big.txt": b"x" * 2500,           # over max_file_bytes: hashed, no content
    "edge.txt": b"y" * 1000,          # exactly the cap: kept
    "empty.txt": b"",
    "CRLF.bat": b"@echo off\r\n",
}

pytestmark = pytest.mark.skipif(not shutil.which("git"), reason="git not installed")


def cfg(**kw) -> Config:
    return Config(**{"max_file_bytes": 1000, "max_fetch_s": 60.0, **kw})


def _mirror(url: str, cache: str, blob_limit: int | None = None) -> str:
    return sources.git_mirror(url, cache, 60, blob_limit)


def _absent(mirror: str, sha: str) -> set[str]:
    """Objects of the commit missing from the mirror, listed without fetching (rev-list --missing=print)."""
    out = git(mirror, "rev-list", "--objects", "--no-walk", "--missing=print", sha)
    return {line[1:] for line in out.splitlines() if line.startswith("?")}


def test_rows_identical_to_git_archive(tmp_path):
    repo, sha = git_repo_with(tmp_path / "r", FILES, symlinks={"alias.py": "a.py"}, executable=("bin/tool.sh",))
    mirror = _mirror(str(repo), str(tmp_path / "c"))
    tar = subprocess.run(["git", "archive", "--format=tar", sha], cwd=mirror, capture_output=True, check=True).stdout
    old_rejected: list[Rejection] = []
    old = list(iter_archive(tar, LIMITS, old_rejected, strip_top=False))
    new_rejected: list[Rejection] = []
    new, unread = read_commit(mirror, sha, LIMITS, new_rejected)
    assert new == old and new_rejected == old_rejected == [Rejection("alias.py", "symlink")] and unread == []
    by_path = {f.path: f for f in new}
    assert by_path["big.txt"].data is None and by_path["big.txt"].size == 2500
    assert by_path["edge.txt"].data == FILES["edge.txt"] and by_path["docs/\u00fcber.md"].data == "# \u00fcber\n".encode()


def test_caps_stop_the_read_as_for_an_archive(tmp_path):
    repo, sha = git_repo_with(tmp_path / "r", {f"f{i}.txt": b"z" * 400 for i in range(5)})
    mirror = _mirror(str(repo), str(tmp_path / "c"))
    rejected: list[Rejection] = []
    files, _ = read_commit(mirror, sha, Limits(max_members=2), rejected)
    assert [f.path for f in files] == ["f0.txt", "f1.txt"] and rejected == [Rejection("f2.txt", "too_many_members")]
    rejected = []
    files, _ = read_commit(mirror, sha, Limits(max_total_bytes=1000), rejected)
    assert [f.path for f in files] == ["f0.txt", "f1.txt"] and rejected == [Rejection("f2.txt", "bomb")]


def test_missing_blob_costs_one_file_not_the_repo(tmp_path):
    repo, sha = git_repo_with(tmp_path / "r", {"keep.py": b"x = 1\n", "lost.py": b"y = 2\n"})
    cache = str(tmp_path / "c")
    spec = {"type": "git", "url": str(repo), "rev": sha}
    assert crawl_source(spec, cfg(), cache)["error"] is None
    mirror = _mirror(str(repo), cache)  # a local clone hard-links the loose objects: delete one of them
    lost = git(mirror, "rev-parse", f"{sha}:lost.py")
    (Path(mirror) / "objects" / lost[:2] / lost[2:]).unlink()
    archive = subprocess.run(["git", "archive", sha], cwd=mirror, capture_output=True)
    assert archive.returncode != 0  # what the crawl used to do: the whole repository failed
    res = crawl_source(spec, cfg(), cache)
    assert res["error"] is None
    rows = {r["path"]: r for r in res["rows"]}
    assert rows["keep.py"]["content"] == "x = 1\n"
    assert {k: rows["lost.py"][k] for k in ("content", "skip_reason", "size", "sha256", "is_binary", "lang")} == {
        "content": None, "skip_reason": "missing_blob", "size": None, "sha256": None, "is_binary": None,
        "lang": "Python"}


def test_partial_clone_skips_large_blobs_and_never_fetches(tmp_path):
    repo, sha = git_repo_with(tmp_path / "origin", {"small.py": b"s = 1\n", "edge.txt": b"e" * 1000,
                                                    "big.bin": b"\x00" * 5000})
    git(repo, "config", "uploadpack.allowFilter", "true")
    cache = str(tmp_path / "c")
    spec = {"type": "git", "url": repo.as_uri(), "rev": sha, "name": "demo"}
    first = crawl_source(spec, cfg(git_blob_filter=True), cache)
    mirror = _mirror(repo.as_uri(), cache, blob_limit=1001)
    big = git(mirror, "rev-parse", f"{sha}:big.bin")
    assert first["error"] is None and _absent(mirror, sha) == {big}  # not downloaded, and not fetched by the read
    shutil.move(repo, tmp_path / "gone")  # the remote is unreachable: a lazy fetch would now fail the read
    again = crawl_source(spec, cfg(git_blob_filter=True), cache)
    assert again["error"] is None and again["rows"] == first["rows"]
    rows = {r["path"]: r for r in again["rows"]}
    assert (rows["big.bin"]["skip_reason"], rows["big.bin"]["size"], rows["big.bin"]["sha256"]) == ("too_large", None, None)
    assert rows["edge.txt"]["size"] == 1000 and rows["small.py"]["content"] == "s = 1\n"


def test_filter_falls_back_to_a_full_clone_for_paths_and_bundles(tmp_path):
    repo, sha = git_repo_with(tmp_path / "origin", {"small.py": b"s = 1\n", "big.bin": b"\x00" * 5000})
    bundle = tmp_path / "r.bundle"
    git(repo, "bundle", "create", str(bundle), "main")
    for url in (str(repo), str(bundle)):
        res = crawl_source({"type": "git", "url": url, "rev": sha, "name": "demo"}, cfg(git_blob_filter=True),
                           str(tmp_path / "c"))
        big = next(r for r in res["rows"] if r["path"] == "big.bin")
        assert res["error"] is None and (big["skip_reason"], big["size"]) == ("too_large", 5000) and big["sha256"]


def test_symlinks_and_submodules_are_rejected(tmp_path):
    repo, _ = git_repo_with(tmp_path / "r", {"a.py": b"a = 1\n"}, symlinks={"link": "/etc/passwd"})
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{git(repo, 'rev-parse', 'HEAD')},vendor/sub")
    git(repo, "commit", "-q", "-m", "submodule")
    res = crawl_source({"type": "git", "url": str(repo), "name": "demo"}, cfg(), str(tmp_path / "c"))
    assert res["error"] is None and [r["path"] for r in res["rows"]] == ["a.py"]
    assert [(r["member"], r["reason"]) for r in res["rejected"]] == [("link", "symlink"), ("vendor/sub", "submodule")]
