"""Opt-out: repositories and owners whose code must not enter the corpus, matched at crawl time.

Patterns are globs (`fnmatch`, case-insensitive) over normalised source names:
- `pypi/<name>` (PEP 503 name: `pypi/Foo_Bar` and `pypi/foo-bar` are one), `npm/<name>` or
  `npm/@scope/*`, `git/<owner>/<repo>` (the crawl's repo id without `@rev`);
- `<host>/<owner>/<repo>` for git URLs, e.g. `github.com/someowner/*` (scheme, `www.`, user info,
  `.git` and `git@host:owner/repo` forms are normalised away).
A source is out when any of its names matches; the match reports the pattern and its reason, so
the crawl can quarantine the source with a reason that says why. Versions never matter: opting out
a repository opts out all its releases.
"""
from __future__ import annotations

import fnmatch
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tasks.common.params import ParamError, checked_section, get
from tasks.governance.config import nest
from tasks.crawl.sources import canonical_pypi_name, default_name

_SCP_URL = re.compile(r"^[\w.-]+@([\w.-]+):(.+)$")  # git@github.com:owner/repo.git


@dataclass(frozen=True)
class OptOutEntry:
    pattern: str  # normalised (lowercase, no trailing slash)
    reason: str


def _norm_pattern(pattern: str) -> str:
    p = pattern.strip().lower().rstrip("/")
    for prefix in ("https://", "http://", "ssh://", "git://"):
        if p.startswith(prefix):
            p = p[len(prefix):]
    if p.startswith("www."):
        p = p[4:]
    if p.startswith("pypi/") and "*" not in p and "?" not in p and "[" not in p:
        p = "pypi/" + canonical_pypi_name(p[5:])
    return p.removesuffix(".git")


def url_name(url: str) -> str | None:
    """`host/path` of a remote git URL (no scheme, user info, port, `www.` or `.git`), else None."""
    u = url.strip()
    scp = _SCP_URL.match(u)
    if scp and "://" not in u:
        host, path = scp.group(1), scp.group(2)
    else:
        parsed = urllib.parse.urlparse(u)
        if not parsed.netloc:
            return None
        host, path = parsed.hostname or "", parsed.path
    host = host.lower().removeprefix("www.")
    path = path.strip("/").removesuffix(".git").lower()
    return f"{host}/{path}" if host and path else None


def source_names(spec: dict[str, Any]) -> list[str]:
    """The names a crawl source spec can be matched by."""
    kind = spec.get("type")
    if kind == "pypi":
        return [f"pypi/{canonical_pypi_name(spec['name'])}"]
    if kind == "npm":
        return [f"npm/{spec['name'].lower()}"]
    if kind == "git":
        names = [f"git/{default_name(spec).lower()}"]
        remote = url_name(spec["url"])
        return names + ([remote] if remote else [])
    if kind == "local":
        return [f"local/{default_name(spec).lower()}"]
    return []


def repo_names(repo: str) -> list[str]:
    """The names a crawl repo id (`pypi/<name>@<version>`, `git/<owner>/<repo>@<rev>`) is matched by."""
    base = repo.strip().lower()
    if "@" in base.split("/", 1)[-1].lstrip("@"):
        base = base[:base.rindex("@")]
    if base.startswith("pypi/"):
        base = "pypi/" + canonical_pypi_name(base[5:])
    return [base]


@dataclass(frozen=True)
class OptOutList:
    entries: tuple[OptOutEntry, ...] = ()

    def _match(self, names: Iterable[str]) -> str | None:
        names = list(names)
        for e in self.entries:
            for name in names:
                if fnmatch.fnmatchcase(name, e.pattern):
                    return f"opt_out: {name} matches {e.pattern!r} ({e.reason})"
        return None

    def match_spec(self, spec: dict[str, Any]) -> str | None:
        """The reason a crawl source spec is opted out, or None."""
        return self._match(source_names(spec))

    def match_repo(self, repo: str, url: str | None = None) -> str | None:
        """The reason a repo id (and optionally its remote URL) is opted out, or None."""
        remote = url_name(url) if url else None
        return self._match(repo_names(repo) + ([remote] if remote else []))


def load_optout_file(path: str | Path) -> list[tuple[str, str]]:
    """(pattern, reason) per line of a text file: `pattern  # reason`; blank and `#` lines skipped."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        body, _, comment = line.partition("#")
        if body.strip():
            out.append((body.strip(), comment.strip() or f"{Path(path).name}:{n}"))
    return out


def optout_from_params(section: dict[str, Any] | None, name: str = "optout") -> OptOutList:
    """Validate an `optout` params section: {patterns: [str | {pattern, reason}], file: path}."""
    sec = checked_section(section, name, ("patterns", "file"))
    p = nest(name, sec)
    raw: list[tuple[str, str]] = []
    for i, item in enumerate(get(p, f"{name}.patterns", default=[], kind=(list, tuple))):
        where = f"{name}.patterns[{i}]"
        if isinstance(item, str):
            raw.append((item, "params.yaml"))
        elif isinstance(item, dict) and set(item) <= {"pattern", "reason"} and isinstance(item.get("pattern"), str):
            raw.append((item["pattern"], str(item.get("reason") or "params.yaml")))
        else:
            raise ParamError(f"{where}: expected a pattern string or {{pattern, reason}}, got {item!r}")
    file = get(p, f"{name}.file", default=None, kind=(str, type(None)))
    if file:
        try:
            raw.extend(load_optout_file(file))
        except OSError as exc:
            raise ParamError(f"{name}.file: cannot read {file}: {exc.strerror or exc}") from None
    entries = []
    for pattern, reason in raw:
        norm = _norm_pattern(pattern)
        if not norm or norm in ("*", "**") or "/" not in norm:
            raise ParamError(f"{name}.patterns: {pattern!r} must name a source kind or host and a path "
                             "(e.g. pypi/name, npm/@scope/*, github.com/owner/*); a bare * would drop everything")
        entries.append(OptOutEntry(norm, reason))
    return OptOutList(tuple(entries))
