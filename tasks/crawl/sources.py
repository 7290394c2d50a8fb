"""Source specs (what to crawl) and how each kind is turned into an archive, a git commit or a directory.

A spec is a small dict from params.yaml or the manifest: `{type: pypi|npm, name, version}`,
`{type: git, url, rev?, before?, name?}` or `{type: local, path, name?}`, plus optional metadata
(stars, license, created_at). PyPI sdists are found through the simple API of the index pip uses
(PEP 691 JSON or PEP 503 HTML, file:// index directories included), npm tarballs through the
registry npm uses: the crawl sees the same mirror as the developer's installs, and tests run offline.
`pip download` is deliberately not used: it builds metadata, which fails for packages like numpy.
"""
from __future__ import annotations

import datetime as _dt
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from tasks.common.hashing import sha256_hex
from tasks.common.params import ParamError
from tasks.crawl.fetch import Digest, HttpClient, file_url_path, split_hash_fragment

SOURCE_TYPES = ("pypi", "npm", "git", "local")
_REQUIRED = {"pypi": ("name", "version"), "npm": ("name", "version"), "git": ("url",), "local": ("path",)}
_OPTIONAL = {"pypi": (), "npm": (), "git": ("rev", "before", "name"), "local": ("name",)}
META_KEYS = ("stars", "license", "created_at")
DEFAULT_PYPI_INDEX = "https://pypi.org/simple"
DEFAULT_NPM_REGISTRY = "https://registry.npmjs.org/"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SDIST_EXTS = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")  # preference order
_SIMPLE_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_NPM_NAME = re.compile(r"^(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*$", re.IGNORECASE)


class SourceError(Exception):
    """A source cannot be resolved (no such version, no sdist, git rev unknown, ...)."""


def _as_text(value: Any, key: str, *, allow_int: bool = False) -> str:
    if isinstance(value, bool) or not (isinstance(value, str) or (allow_int and isinstance(value, int))):
        hint = " (quote it in YAML: 1.10 would read as the float 1.1)" if isinstance(value, float) else ""
        raise ParamError(f"{key}: expected a string, got {value!r}{hint}")
    text = str(value).strip()
    if not text:
        raise ParamError(f"{key}: must not be empty")
    return text


def _as_date(value: Any, key: str) -> str:
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    text = _as_text(value, key)
    if not _DATE.match(text):
        raise ParamError(f"{key}: expected a date YYYY-MM-DD, got {value!r}")
    return text


def validate_spec(spec: Any, where: str) -> dict[str, Any]:
    """A normalised copy of one spec; `where` is its dotted name, e.g. `crawl.sources[3]`."""
    if not isinstance(spec, dict):
        raise ParamError(f"{where}: expected a mapping with a `type`, got {spec!r}")
    kind = spec.get("type")
    if kind not in SOURCE_TYPES:
        raise ParamError(f"{where}.type: unknown source type {kind!r}; expected one of {', '.join(SOURCE_TYPES)}")
    allowed = {"type", *_REQUIRED[kind], *_OPTIONAL[kind], *META_KEYS}
    for key in sorted(spec):
        if key not in allowed:
            raise ParamError(f"{where}.{key}: unknown key for a {kind} source; allowed: {', '.join(sorted(allowed))}")
    out: dict[str, Any] = {"type": kind}
    for key in _REQUIRED[kind]:
        if spec.get(key) is None:
            raise ParamError(f"{where}.{key}: required key missing for a {kind} source")
    for key in (*_REQUIRED[kind], *_OPTIONAL[kind]):
        if spec.get(key) is None:
            continue
        if key == "before":
            out[key] = _as_date(spec[key], f"{where}.{key}")
        else:
            out[key] = _as_text(spec[key], f"{where}.{key}", allow_int=key in ("version", "rev"))
    if kind == "npm" and not _NPM_NAME.match(out["name"]):
        raise ParamError(f"{where}.name: not a valid npm package name: {out['name']!r}")
    if kind == "pypi" and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", out["name"]):
        raise ParamError(f"{where}.name: not a valid PyPI project name: {out['name']!r}")
    if "stars" in spec and spec["stars"] is not None:
        stars = spec["stars"]
        if isinstance(stars, bool) or not isinstance(stars, int) or stars < 0:
            raise ParamError(f"{where}.stars: expected an integer >= 0, got {stars!r}")
        out["stars"] = stars
    if spec.get("license") is not None:
        out["license"] = _as_text(spec["license"], f"{where}.license")
    if spec.get("created_at") is not None:
        value = spec["created_at"]
        out["created_at"] = value.isoformat() if isinstance(value, (_dt.date, _dt.datetime)) else _as_text(
            value, f"{where}.created_at")
    return out


def canonical_pypi_name(name: str) -> str:
    """PEP 503 normalisation: case-folded, runs of -_. become one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def default_name(spec: dict[str, Any]) -> str:
    """The name part of the repo id (before @)."""
    if spec["type"] == "pypi":
        return canonical_pypi_name(spec["name"])
    if spec["type"] == "npm":
        return spec["name"]
    if spec.get("name"):
        return spec["name"]
    if spec["type"] == "local":
        return os.path.basename(os.path.normpath(spec["path"])) or "root"
    parsed = urllib.parse.urlparse(spec["url"])
    parts = [p for p in (parsed.path or spec["url"]).rstrip("/").split("/") if p]
    parts = [re.sub(r"\.git$", "", p) for p in parts] or ["repo"]
    return "/".join(parts[-2:]) if parsed.netloc else parts[-1]


def repo_id(spec: dict[str, Any], rev: str | None = None) -> str:
    """Stable id: pypi/<name>@<version>, npm/<name>@<version>, git/<name>@<rev12>, local/<name>."""
    kind, name = spec["type"], default_name(spec)
    if kind in ("pypi", "npm"):
        return f"{kind}/{name}@{spec['version']}"
    if kind == "git":
        return f"git/{name}@{(rev or spec.get('rev') or 'HEAD')[:12]}"
    return f"local/{name}"


def spec_key(spec: dict[str, Any]) -> str:
    """Canonical JSON of a spec: the cache key of its resolution."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------- registries: where pip/npm look

def _run_quiet(cmd: list[str], timeout: float = 30) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@lru_cache(maxsize=1)
def pip_index_url() -> str:
    """PIP_INDEX_URL, else `pip config get global.index-url`, else PyPI."""
    env = os.environ.get("PIP_INDEX_URL", "").strip()
    if env:
        return env.split()[0]
    value = _run_quiet([sys.executable, "-m", "pip", "config", "get", "global.index-url"])
    if value and value.splitlines():
        return value.splitlines()[-1].strip()
    return DEFAULT_PYPI_INDEX


@lru_cache(maxsize=1)
def npm_registry_url() -> str:
    """NPM_CONFIG_REGISTRY, else `npm config get registry` (when npm exists), else the public registry."""
    env = (os.environ.get("NPM_CONFIG_REGISTRY") or os.environ.get("npm_config_registry") or "").strip()
    if env:
        return env
    if shutil.which("npm"):
        value = _run_quiet(["npm", "config", "get", "registry"])
        lines = [ln.strip() for ln in (value or "").splitlines() if ln.strip().startswith(("http", "file:"))]
        if lines:
            return lines[-1]
    return DEFAULT_NPM_REGISTRY


# ---------------------------------------------------------------- PyPI

class Artifact(NamedTuple):
    url: str
    digest: Digest | None
    meta: dict[str, Any]  # created_at / license / filename found while resolving


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def _sdist_version(filename: str, name: str) -> str | None:
    """Version of an sdist file name for project `name`, or None if it is not one."""
    for ext in _SDIST_EXTS:
        if filename.lower().endswith(ext):
            stem = filename[: -len(ext)]
            proj, sep, version = stem.rpartition("-")
            if sep and canonical_pypi_name(proj) == canonical_pypi_name(name):
                return version
    return None


def _pick_sdist(files: list[dict[str, Any]], name: str, version: str) -> dict[str, Any]:
    wanted = version.lower()
    cands = [f for f in files if (_sdist_version(f["filename"], name) or "").lower() == wanted]
    if not cands:
        raise SourceError(f"pypi {name}=={version}: no sdist in the index")
    rank = {ext: i for i, ext in enumerate(_SDIST_EXTS)}
    return min(cands, key=lambda f: (next(rank[e] for e in _SDIST_EXTS if f["filename"].lower().endswith(e)),
                                     f["filename"]))


def pypi_artifact(name: str, version: str, client: HttpClient, index_url: str | None = None) -> Artifact:
    """The sdist of name==version from the simple API (PEP 691 JSON, else PEP 503 HTML)."""
    files = pypi_files(name, client, index_url)
    best = _pick_sdist(files, name, version)
    meta = {"filename": best["filename"]}
    if best.get("upload_time"):
        meta["created_at"] = best["upload_time"]
    return Artifact(best["url"], best["digest"], meta)


def pypi_latest(name: str, client: HttpClient, index_url: str | None = None) -> str:
    """The highest final (not pre- or dev-) release of `name` that has an sdist in the index."""
    from packaging.version import InvalidVersion, Version

    versions = []
    for f in pypi_files(name, client, index_url):
        v = _sdist_version(f["filename"], name)
        try:
            parsed = Version(v) if v else None
        except InvalidVersion:
            parsed = None
        if parsed is not None and not parsed.is_prerelease:
            versions.append((parsed, v))
    if not versions:
        raise SourceError(f"pypi {name}: no final release with an sdist in the index")
    return max(versions)[1]


def pypi_files(name: str, client: HttpClient, index_url: str | None = None) -> list[dict[str, Any]]:
    """Every file the index lists for `name` (filename, url, digest, upload_time)."""
    index = (index_url or pip_index_url()).rstrip("/")
    canon = canonical_pypi_name(name)
    if index.startswith("file:"):
        page_url = f"{index}/{canon}/index.html"
        fetched = client.get(page_url)
        content_type = "text/html"
    else:
        page_url = f"{index}/{canon}/"
        fetched = client.get(page_url, headers={"Accept": _SIMPLE_ACCEPT})
        content_type = fetched.headers.get("Content-Type", "")
    files: list[dict[str, Any]] = []
    if "json" in content_type:
        doc = json.loads(fetched.body)
        for f in doc.get("files", []):
            url = urllib.parse.urljoin(fetched.url, f["url"])
            sha = (f.get("hashes") or {}).get("sha256")
            files.append({"filename": f["filename"], "url": url, "digest": Digest("sha256", sha) if sha else None,
                          "upload_time": f.get("upload-time")})
    else:
        parser = _Anchors()
        parser.feed(fetched.body.decode("utf-8", errors="replace"))
        for href, text in parser.links:
            url, digest = split_hash_fragment(urllib.parse.urljoin(fetched.url, href))
            filename = text or urllib.parse.unquote(url.rsplit("/", 1)[-1])
            files.append({"filename": filename, "url": url, "digest": digest, "upload_time": None})
    return files


# ---------------------------------------------------------------- npm

def _npm_document(client: HttpClient, registry: str | None, what: str, *path: str,
                  accept: str = "application/json") -> dict:
    """The registry's JSON answer for <registry>/<path...> (each part quoted); `what` names it in errors."""
    reg = (registry or npm_registry_url()).rstrip("/")
    url = "/".join([reg] + [urllib.parse.quote(part, safe="@") for part in path])
    try:
        return json.loads(client.get(url, headers={"Accept": accept}).body)
    except ValueError as exc:
        raise SourceError(f"npm {what}: registry answer is not JSON") from exc


def npm_latest(name: str, client: HttpClient, registry: str | None = None) -> str:
    """The registry's `latest` dist-tag of `name`."""
    doc = _npm_document(client, registry, name, name, accept="application/vnd.npm.install-v1+json")
    latest = (doc.get("dist-tags") or {}).get("latest")
    if not isinstance(latest, str) or not latest:
        raise SourceError(f"npm {name}: no `latest` dist-tag")
    return latest


def npm_artifact(name: str, version: str, client: HttpClient, registry: str | None = None) -> Artifact:
    """dist.tarball (+ integrity/shasum, license) of name@version from <registry>/<name>/<version>."""
    doc = _npm_document(client, registry, f"{name}@{version}", name, version)
    dist = doc.get("dist") or {}
    tarball = dist.get("tarball")
    if not tarball:
        raise SourceError(f"npm {name}@{version}: no dist.tarball in the registry answer")
    digest = Digest.from_integrity(dist.get("integrity", ""))
    if digest is None and dist.get("shasum"):
        digest = Digest("sha1", dist["shasum"].lower())
    meta: dict[str, Any] = {}
    lic = doc.get("license")
    if isinstance(lic, dict):
        lic = lic.get("type")
    if isinstance(lic, str) and lic.strip():
        meta["license"] = lic.strip()
    return Artifact(tarball, digest, meta)


# ---------------------------------------------------------------- git

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}


def git_bytes(args: list[str], *, cwd: str | None = None, timeout: float = 600,
              env: dict[str, str] | None = None) -> bytes:
    """stdout of `git <args>`; a SourceError naming the subcommand and git's last words on failure."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=timeout,
                             env=env or {**os.environ, **_GIT_ENV}, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SourceError(f"git {args[0]}: timed out after {timeout}s") from exc
    except OSError as exc:
        raise SourceError(f"git {args[0]}: {exc}") from exc
    if out.returncode != 0:
        msg = out.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SourceError(f"git {args[0]}: {msg[-1] if msg else f'exit {out.returncode}'}")
    return out.stdout


def _git(args: list[str], *, cwd: str | None = None, timeout: float = 600) -> str:
    return git_bytes(args, cwd=cwd, timeout=timeout).decode("utf-8", "replace").strip()


def _git_url(url: str) -> str:
    return file_url_path(url) if url.startswith("file:") else url


def _is_local(src: str) -> bool:
    """A path (not a URL, not scp-like host:path): cloned by copying, so a --filter has no effect."""
    return "://" not in src and ":" not in src.split("/", 1)[0]


class GitSnapshot(NamedTuple):
    repo: str  # the cached bare clone
    sha: str  # the commit
    created: str | None  # repo created_at: the earliest root commit's committer date


def git_mirror(url: str, cache_dir: str, timeout: float, blob_limit: int | None = None) -> str:
    """A bare clone of `url` under the cache (cloned once; concurrent clones race safely).

    With `blob_limit`, a remote is cloned partially (`--filter=blob:limit=<n>`: blobs of n bytes or
    more are never downloaded) into a mirror of its own, so a full mirror never lacks a blob. A local
    path or bundle cannot filter (git copies it whole) and shares the full mirror. A file:// URL keeps
    its transport for the filter to apply (git serves it with upload-pack, `uploadpack.allowFilter`).
    """
    src, key, args = _git_url(url), url, ["clone", "--quiet", "--bare"]
    remote = url.startswith("file://") or not (url.startswith("file:") or _is_local(url))
    if blob_limit is not None and remote:
        src, key = url, f"{url}\n--filter=blob:limit={blob_limit}"
        args.append(f"--filter=blob:limit={blob_limit}")
    root = Path(cache_dir) / "git"
    root.mkdir(parents=True, exist_ok=True)
    target = root / (sha256_hex(key.encode("utf-8"))[:24] + ".git")
    if not (target / "HEAD").exists():
        tmp = tempfile.mkdtemp(prefix=".clone-", dir=root)
        try:
            _git([*args, "--", src, tmp], timeout=timeout)
            try:
                os.replace(tmp, target)
            except OSError:  # another worker finished first
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


def _resolve_rev(repo: str, rev: str | None, before: str | None) -> str:
    ref = rev or "HEAD"
    if before:
        sha = _git(["rev-list", "-1", f"--before={before} 00:00:00 +0000", f"{ref}^{{commit}}", "--"], cwd=repo)
        if not sha:
            raise SourceError(f"git: no commit of {ref} before {before}")
        return sha
    return _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=repo)


def git_fetch(repo: str, timeout: float) -> None:
    """Bring a mirror's branches and tags up to date with its origin (a moving ref must be fetched)."""
    _git(["fetch", "--quiet", "--tags", "--force", "origin", "+refs/heads/*:refs/heads/*"], cwd=repo, timeout=timeout)


def git_resolve(url: str, rev: str | None, before: str | None, cache_dir: str, timeout: float = 600,
                blob_limit: int | None = None) -> str:
    """The commit a moving ref (a branch, a tag, HEAD, or the last commit before a date) names today:
    the mirror is fetched first, so a new commit on the branch is seen."""
    repo = git_mirror(url, cache_dir, timeout, blob_limit)
    git_fetch(repo, timeout)
    return _resolve_rev(repo, rev, before)


def git_snapshot(url: str, rev: str | None, before: str | None, cache_dir: str,
                 timeout: float = 600, blob_limit: int | None = None) -> GitSnapshot:
    """The commit to crawl and the repo's created_at; its files are read by `gitread.read_commit`.

    A rev already present in the cached clone is used without touching the network; pin a sha
    (or a date with `before`) for reproducible snapshots. Only commits are read here: in a partial
    clone nothing of this needs a blob, so nothing is fetched lazily.
    """
    repo = git_mirror(url, cache_dir, timeout, blob_limit)
    try:
        sha = _resolve_rev(repo, rev, before)
    except SourceError:
        git_fetch(repo, timeout)
        sha = _resolve_rev(repo, rev, before)
    roots = _git(["log", "--max-parents=0", "--format=%cI", sha], cwd=repo).split()
    created = min(roots, key=lambda s: _dt.datetime.fromisoformat(s)) if roots else None
    return GitSnapshot(repo, sha, created)
