"""Discovery: turn a GitHub repository search into git source specs.

The paper crawls public repositories created before February 2023; the search API filters on
`created:<DATE`, `stars:>=N` and language, sorted by stars, paginated through Link headers. The
answers carry the metadata the raw table wants (stars, created_at, license), so it is kept in the
specs. The token comes from GITHUB_TOKEN at call time and is only ever put in a request header:
it is in no spec, config, log line or error message. Rate limits are waited out (bounded by
`max_wait_s`) using X-RateLimit-Reset or Retry-After.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from tasks.common.params import ParamError, get, number
from tasks.crawl.sources import validate_spec

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class GithubError(Exception):
    """Discovery failed (HTTP error, rate limit longer than allowed)."""


@dataclass(frozen=True)
class GithubConfig:
    enabled: bool = False
    api_url: str = "https://api.github.com"
    created_before: str = "2023-02-01"  # the paper's cutoff: repositories created before Feb 2023
    min_stars: int = 100
    languages: tuple[str, ...] = ("Python", "JavaScript", "TypeScript", "Java", "C++", "Go")
    per_page: int = 50
    max_pages: int = 2
    max_repos: int = 100
    snapshot_before: str | None = None  # when set, each spec takes the last commit before this date
    max_wait_s: float = 120.0
    timeout_s: float = 30.0


def _date(p: dict[str, Any], key: str, default: Any) -> Any:
    value = get(p, key, default=default)
    if value is None:
        return None
    if isinstance(value, _dt.date):
        return value.isoformat()
    if not isinstance(value, str) or not _DATE.match(value):
        raise ParamError(f"{key}: expected a date YYYY-MM-DD, got {value!r}")
    return value


def github_config_from_params(section: dict[str, Any] | None) -> GithubConfig:
    """Validate `crawl.github`; absent means discovery disabled."""
    if section is None:
        return GithubConfig()
    if not isinstance(section, dict):
        raise ParamError(f"crawl.github: expected a mapping, got {section!r}")
    known = set(GithubConfig.__dataclass_fields__)
    for key in sorted(section):
        if key not in known:
            raise ParamError(f"crawl.github.{key}: unknown key; expected one of {', '.join(sorted(known))}")
    p = {"crawl": {"github": section}}
    d = GithubConfig()
    languages = get(p, "crawl.github.languages", default=list(d.languages), kind=list)
    if not languages or not all(isinstance(x, str) and x.strip() for x in languages):
        raise ParamError(f"crawl.github.languages: expected a non-empty list of names, got {languages!r}")
    api_url = get(p, "crawl.github.api_url", default=d.api_url, kind=str)
    if not api_url.startswith(("http://", "https://")):
        raise ParamError(f"crawl.github.api_url: expected an http(s) URL, got {api_url!r}")
    return GithubConfig(
        enabled=get(p, "crawl.github.enabled", default=d.enabled, kind=bool),
        api_url=api_url.rstrip("/"),
        created_before=_date(p, "crawl.github.created_before", d.created_before),
        min_stars=number(p, "crawl.github.min_stars", lo=0, integer=True, default=d.min_stars),
        languages=tuple(x.strip() for x in languages),
        per_page=number(p, "crawl.github.per_page", lo=1, hi=100, integer=True, default=d.per_page),
        max_pages=number(p, "crawl.github.max_pages", lo=1, hi=10, integer=True, default=d.max_pages),
        max_repos=number(p, "crawl.github.max_repos", lo=1, integer=True, default=d.max_repos),
        snapshot_before=_date(p, "crawl.github.snapshot_before", d.snapshot_before),
        max_wait_s=float(number(p, "crawl.github.max_wait_s", lo=0, default=d.max_wait_s)),
        timeout_s=float(number(p, "crawl.github.timeout_s", lo=0, lo_open=True, default=d.timeout_s)),
    )


def search_query(cfg: GithubConfig, language: str) -> str:
    lang = language if re.fullmatch(r"[\w#+.-]+", language) else f'"{language}"'
    return f"created:<{cfg.created_before} stars:>={cfg.min_stars} language:{lang}"


def _rate_limit_wait(resp: requests.Response, now: float) -> float | None:
    """Seconds until GitHub accepts requests again, or None if this is not a rate-limit answer."""
    retry_after = resp.headers.get("Retry-After")
    if retry_after and retry_after.strip().isdigit():
        return float(retry_after)
    if resp.headers.get("X-RateLimit-Remaining") == "0":
        reset = resp.headers.get("X-RateLimit-Reset", "")
        return max(0.0, float(reset) - now) + 1.0 if reset.isdigit() else None
    return None


def _spec_from_item(item: dict[str, Any], cfg: GithubConfig) -> dict[str, Any] | None:
    url = item.get("clone_url") or (item.get("html_url") and item["html_url"] + ".git")
    name = item.get("full_name")
    if not url or not name:
        return None
    spec: dict[str, Any] = {"type": "git", "url": url, "name": name}
    if isinstance(item.get("stargazers_count"), int):
        spec["stars"] = item["stargazers_count"]
    if item.get("created_at"):
        spec["created_at"] = item["created_at"]
    lic = (item.get("license") or {}).get("spdx_id")
    if lic and lic != "NOASSERTION":
        spec["license"] = lic
    if cfg.snapshot_before:
        spec["before"] = cfg.snapshot_before
    return validate_spec(spec, f"github[{name}]")


def search_repositories(cfg: GithubConfig, *, session: requests.Session | None = None,
                        sleep: Callable[[float], None] = time.sleep,
                        now: Callable[[], float] = time.time) -> list[dict[str, Any]]:
    """Git source specs of the repositories matching the search, most stars first, deduplicated."""
    session = session or requests.Session()
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "User-Agent": "coder-pipeline-crawl"}
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    found: dict[str, dict[str, Any]] = {}
    for language in cfg.languages:
        url: str | None = f"{cfg.api_url}/search/repositories"
        params: dict[str, Any] | None = {"q": search_query(cfg, language), "sort": "stars", "order": "desc",
                                         "per_page": cfg.per_page, "page": 1}
        pages = 0
        while url and pages < cfg.max_pages:
            resp = _get(session, url, params, headers, cfg, sleep, now)
            pages += 1
            for item in resp.json().get("items", []):
                spec = _spec_from_item(item, cfg)
                if spec and spec["url"] not in found:
                    found[spec["url"]] = spec
            url, params = resp.links.get("next", {}).get("url"), None  # the next link carries the query
    ranked = sorted(found.values(), key=lambda s: (-s.get("stars", 0), s["name"]))
    return ranked[: cfg.max_repos]


def _get(session: requests.Session, url: str, params: dict[str, Any] | None, headers: dict[str, str],
         cfg: GithubConfig, sleep: Callable[[float], None], now: Callable[[], float]) -> requests.Response:
    """One page, waiting out rate limits and retrying 5xx a few times (errors never show headers)."""
    waited = 0.0
    for attempt in range(6):
        try:
            resp = session.get(url, params=params, headers=headers, timeout=cfg.timeout_s)
        except requests.RequestException as exc:
            if attempt == 5:
                raise GithubError(f"GET {url}: {type(exc).__name__}") from None
            sleep(min(2.0 ** attempt, 30.0))
            continue
        if resp.status_code == 200:
            return resp
        wait = _rate_limit_wait(resp, now()) if resp.status_code in (403, 429) else None
        if wait is not None:
            if waited + wait > cfg.max_wait_s:
                raise GithubError(f"GET {url}: rate limited for {wait:.0f}s more (max_wait_s={cfg.max_wait_s})")
            waited += wait
            sleep(wait)
            continue
        if resp.status_code >= 500 and attempt < 5:
            sleep(min(2.0 ** attempt, 30.0))
            continue
        raise GithubError(f"GET {url}: HTTP {resp.status_code}")
    raise GithubError(f"GET {url}: gave up after retries")
