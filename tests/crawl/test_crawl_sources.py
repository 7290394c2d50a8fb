from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import shutil

import pytest
from crawl_testutil import Reply, git, make_tar

from tasks.common.params import ParamError
from tasks.crawl import sources
from tasks.crawl.config import Config
from tasks.crawl.crawl import crawl_source
from tasks.crawl.fetch import FetchPolicy, HttpClient
from tasks.crawl.sources import SourceError, repo_id, validate_spec

SDIST = make_tar({
    "demo_pkg-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\nLicense: MIT\n",
    "demo_pkg-1.0/demo/__init__.py": b"from .core import f\n",
    "demo_pkg-1.0/demo/core.py": b"def f():\n    return 1\n",
    "demo_pkg-1.0/demo/_speed.c": b"int f(void) { return 1; }\n",
})
SHA = hashlib.sha256(SDIST).hexdigest()


def cfg(**kw) -> Config:
    return Config(**{"retries": 1, "backoff_base_s": 0.01, "timeout_s": 5.0, **kw})


def file_index(tmp_path, *, sha: str = SHA, files: dict[str, bytes] | None = None) -> str:
    """A PEP 503 index on disk: <root>/simple/demo-pkg/index.html + <root>/files/..."""
    root = tmp_path / "index"
    (root / "simple" / "demo-pkg").mkdir(parents=True)
    (root / "files").mkdir()
    files = files or {"demo_pkg-1.0.tar.gz": SDIST}
    links = []
    for name, data in files.items():
        (root / "files" / name).write_bytes(data)
        links.append(f'<a href="../../files/{name}#sha256={sha}">{name}</a>')
    links.append('<a href="../../files/demo_pkg-1.0-py3-none-any.whl#sha256=00">demo_pkg-1.0-py3-none-any.whl</a>')
    (root / "simple" / "demo-pkg" / "index.html").write_text("<html><body>" + "\n".join(links) + "</body></html>")
    return (root / "simple").as_uri()


# ------------------------------------------------------------------ spec validation

@pytest.mark.parametrize("spec,key", [
    ({"type": "svn", "url": "x"}, "crawl.sources[2].type"),
    ({"name": "x"}, "crawl.sources[2].type"),
    ({"type": "pypi", "name": "requests"}, "crawl.sources[2].version"),
    ({"type": "pypi", "version": "1.0"}, "crawl.sources[2].name"),
    ({"type": "pypi", "name": "x", "version": 1.10}, "crawl.sources[2].version"),
    ({"type": "npm", "name": "x", "version": "1", "rev": "main"}, "crawl.sources[2].rev"),
    ({"type": "npm", "name": "Bad Name!", "version": "1"}, "crawl.sources[2].name"),
    ({"type": "git"}, "crawl.sources[2].url"),
    ({"type": "git", "url": "u", "before": "Feb 2023"}, "crawl.sources[2].before"),
    ({"type": "local", "path": "p", "stars": -1}, "crawl.sources[2].stars"),
    ({"type": "local"}, "crawl.sources[2].path"),
])
def test_bad_specs_name_the_key(spec, key):
    with pytest.raises(ParamError) as err:
        validate_spec(spec, "crawl.sources[2]")
    assert str(err.value).startswith(key + ":")


def test_spec_normalisation_and_repo_ids():
    spec = validate_spec({"type": "git", "url": "https://github.com/psf/requests.git", "before": dt.date(2023, 2, 1),
                          "stars": 5, "created_at": dt.date(2011, 2, 13)}, "s")
    assert spec["before"] == "2023-02-01" and spec["created_at"] == "2011-02-13"
    assert repo_id(spec, "0123456789abcdef") == "git/psf/requests@0123456789ab"
    assert repo_id(validate_spec({"type": "pypi", "name": "Zope.Interface", "version": 5}, "s")) == \
        "pypi/zope-interface@5"
    assert repo_id({"type": "npm", "name": "@types/node", "version": "20.1.0"}) == "npm/@types/node@20.1.0"
    assert repo_id({"type": "local", "path": "/tmp/some/proj/"}) == "local/proj"
    assert repo_id({"type": "local", "path": "/x", "name": "mine"}) == "local/mine"


# ------------------------------------------------------------------ registry discovery

def test_index_and_registry_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://mirror.example/simple")
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", "https://npm.example/")
    assert sources.pip_index_url() == "https://mirror.example/simple"
    assert sources.npm_registry_url() == "https://npm.example/"


def test_pip_config_fallback(monkeypatch, tmp_path):
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://configured.example/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert sources.pip_index_url() == "https://configured.example/simple"


# ------------------------------------------------------------------ PyPI

def test_pypi_from_a_file_index_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", file_index(tmp_path))
    res = crawl_source({"type": "pypi", "name": "Demo_Pkg", "version": "1.0", "stars": 3}, cfg(), str(tmp_path / "c"))
    assert res["error"] is None and res["repo"] == "pypi/demo-pkg@1.0"
    rows = {r["path"]: r for r in res["rows"]}
    assert sorted(rows) == ["PKG-INFO", "demo/__init__.py", "demo/_speed.c", "demo/core.py"]
    core = rows["demo/core.py"]
    assert core["lang"] == "Python" and core["content"] == "def f():\n    return 1\n"
    assert rows["demo/_speed.c"]["lang"] == "C"
    assert core["license"] == "MIT" and core["stars"] == 3 and core["version"] == "1.0" and core["source"] == "pypi"


def test_pypi_hash_mismatch_quarantines(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", file_index(tmp_path, sha="0" * 64))
    res = crawl_source({"type": "pypi", "name": "demo-pkg", "version": "1.0"}, cfg(), str(tmp_path / "c"))
    assert res["rows"] == [] and "mismatch" in res["error"]


def test_pypi_missing_version_quarantines(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", file_index(tmp_path))
    res = crawl_source({"type": "pypi", "name": "demo-pkg", "version": "2.0"}, cfg(), str(tmp_path / "c"))
    assert "no sdist" in res["error"]


def test_pypi_json_api_over_http(server):
    doc = {"meta": {"api-version": "1.1"}, "name": "demo-pkg", "files": [
        {"filename": "demo_pkg-1.0-py3-none-any.whl", "url": "/files/w.whl", "hashes": {}},
        {"filename": "demo_pkg-1.0.zip", "url": "/files/demo_pkg-1.0.zip", "hashes": {}},
        {"filename": "demo_pkg-1.0.tar.gz", "url": "../../files/demo_pkg-1.0.tar.gz", "hashes": {"sha256": SHA},
         "upload-time": "2023-01-05T10:00:00.000000Z"},
        {"filename": "demo_pkg-1.0.1.tar.gz", "url": "/files/x", "hashes": {}},
    ]}
    server.add("/simple/demo-pkg/", Reply(200, json.dumps(doc).encode(),
                                          headers={"Content-Type": "application/vnd.pypi.simple.v1+json"}))
    client = HttpClient(FetchPolicy(retries=0))
    art = sources.pypi_artifact("demo.pkg", "1.0", client, server.url + "/simple")
    assert art.url == server.url + "/files/demo_pkg-1.0.tar.gz"
    assert art.digest.value == SHA and art.meta["created_at"] == "2023-01-05T10:00:00.000000Z"
    accept = server.log[-1][1]["Accept"]
    assert accept.startswith("application/vnd.pypi.simple.v1+json")


def test_pypi_html_api_over_http(server):
    server.add("/simple/demo-pkg/", Reply(200, (
        f'<a href="/files/demo_pkg-1.0.tar.gz#sha256={SHA}" data-requires-python="&gt;=3.8">demo_pkg-1.0.tar.gz</a>'
    ).encode(), headers={"Content-Type": "text/html"}))
    art = sources.pypi_artifact("demo-pkg", "1.0", HttpClient(FetchPolicy(retries=0)), server.url + "/simple/")
    assert art.url == server.url + "/files/demo_pkg-1.0.tar.gz" and art.digest.value == SHA


# ------------------------------------------------------------------ npm

def _npm_routes(server, tarball: bytes, *, integrity: bool = True) -> None:
    dist = {"tarball": server.url + "/demo-lib/-/demo-lib-1.2.0.tgz",
            "shasum": hashlib.sha1(tarball).hexdigest()}
    if integrity:
        dist["integrity"] = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    server.add("/demo-lib/1.2.0", Reply(200, json.dumps({"name": "demo-lib", "version": "1.2.0", "license": "ISC",
                                                         "dist": dist}).encode()))
    server.add("/demo-lib/-/demo-lib-1.2.0.tgz", Reply(200, tarball))


def test_npm_end_to_end_and_rerun_downloads_nothing(server, tmp_path, monkeypatch):
    tarball = make_tar({"package/package.json": b'{"name": "demo-lib"}', "package/index.js": b"module.exports = 1;\n",
                        "package/types.d.ts": b"export {};\n", "package/style.css": b"a { color: red }\n"})
    _npm_routes(server, tarball)
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", server.url + "/")
    spec = {"type": "npm", "name": "demo-lib", "version": "1.2.0"}
    first = crawl_source(spec, cfg(), str(tmp_path / "c"))
    assert first["error"] is None and first["repo"] == "npm/demo-lib@1.2.0"
    assert {r["path"]: r["lang"] for r in first["rows"]} == {
        "index.js": "JavaScript", "package.json": "JSON", "style.css": "CSS", "types.d.ts": "TypeScript"}
    assert all(r["license"] == "ISC" for r in first["rows"])
    requests_before = len(server.log)
    second = crawl_source(spec, cfg(), str(tmp_path / "c"))
    assert len(server.log) == requests_before  # nothing asked of the registry again
    assert second["rows"] == first["rows"] and second["stats"]["cache_hit"]


def test_npm_tampered_tarball_quarantines(server, tmp_path, monkeypatch):
    _npm_routes(server, make_tar({"package/index.js": b"1"}))
    server.routes["/demo-lib/-/demo-lib-1.2.0.tgz"].clear()
    server.add("/demo-lib/-/demo-lib-1.2.0.tgz", Reply(200, make_tar({"package/index.js": b"evil"})))
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", server.url)
    res = crawl_source({"type": "npm", "name": "demo-lib", "version": "1.2.0"}, cfg(), str(tmp_path / "c"))
    assert res["rows"] == [] and "sha512 mismatch" in res["error"]


def test_npm_shasum_is_used_without_integrity(server):
    tarball = make_tar({"package/index.js": b"1"})
    _npm_routes(server, tarball, integrity=False)
    art = sources.npm_artifact("demo-lib", "1.2.0", HttpClient(FetchPolicy(retries=0)), server.url)
    assert art.digest == ("sha1", hashlib.sha1(tarball).hexdigest()) and art.meta == {"license": "ISC"}


# ------------------------------------------------------------------ git

@pytest.fixture
def git_repo(tmp_path):
    if not shutil.which("git"):
        pytest.skip("git not installed")
    repo = tmp_path / "origin" / "demo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.py").write_text("print('v1')\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one", date="2022-06-01T12:00:00+00:00")
    first = git(repo, "rev-parse", "HEAD")
    (repo / "a.py").write_text("print('v2')\n")
    (repo / "lib").mkdir()
    (repo / "lib" / "b.go").write_text("package lib\n")
    os.symlink("a.py", repo / "alias.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two", date="2023-03-01T12:00:00+00:00")
    git(repo, "tag", "v2")
    return repo, first, git(repo, "rev-parse", "HEAD")


def test_git_rev_and_before_and_created_at(git_repo, tmp_path):
    repo, first, second = git_repo
    cache = str(tmp_path / "c")
    res = crawl_source({"type": "git", "url": str(repo), "rev": "v2"}, cfg(), cache)
    assert res["error"] is None and res["repo"] == f"git/demo@{second[:12]}"
    rows = {r["path"]: r for r in res["rows"]}
    assert sorted(rows) == ["a.py", "lib/b.go"]  # the top-level lib/ is kept: no stripping for git
    assert rows["a.py"]["content"] == "print('v2')\n" and rows["lib/b.go"]["lang"] == "Go"
    assert rows["a.py"]["version"] == second and rows["a.py"]["created_at"].startswith("2022-06-01T12:00:00")
    assert res["rejected"] == [{"repo": res["repo"], "member": "alias.py", "reason": "symlink"}]
    old = crawl_source({"type": "git", "url": repo.as_uri(), "before": "2023-01-01", "name": "demo"}, cfg(), cache)
    assert old["repo"] == f"git/demo@{first[:12]}"
    assert [r["content"] for r in old["rows"]] == ["print('v1')\n"]


def test_git_cached_clone_serves_a_pinned_sha_offline(git_repo, tmp_path):
    repo, _first, second = git_repo
    cache = str(tmp_path / "c")
    assert crawl_source({"type": "git", "url": str(repo), "rev": second}, cfg(), cache)["error"] is None
    shutil.rmtree(repo)  # the origin is gone: only the cache can answer
    again = crawl_source({"type": "git", "url": str(repo), "rev": second}, cfg(), cache)
    assert again["error"] is None and len(again["rows"]) == 2


def test_git_unknown_rev_quarantines(git_repo, tmp_path):
    repo, _, _ = git_repo
    res = crawl_source({"type": "git", "url": str(repo), "rev": "no-such-branch"}, cfg(), str(tmp_path / "c"))
    assert res["rows"] == [] and res["error"].startswith("SourceError")
    with pytest.raises(SourceError):
        sources.git_snapshot(str(tmp_path / "nowhere"), None, None, str(tmp_path / "c"))


# ------------------------------------------------------------------ local

def test_local_directory_source(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "main.rs").write_text("fn main() {}\n")
    (root / "data.bin").write_bytes(b"\x00\x01\x02")
    os.symlink("/etc/hostname", root / "host")
    res = crawl_source({"type": "local", "path": str(root), "license": "MIT"}, cfg(), str(tmp_path / "c"))
    assert res["repo"] == "local/proj" and res["error"] is None
    rows = {r["path"]: r for r in res["rows"]}
    assert rows["main.rs"]["lang"] == "Rust" and rows["main.rs"]["license"] == "MIT"
    assert rows["data.bin"]["is_binary"] and rows["data.bin"]["skip_reason"] == "binary"
    assert res["rejected"] == [{"repo": "local/proj", "member": "host", "reason": "symlink"}]
