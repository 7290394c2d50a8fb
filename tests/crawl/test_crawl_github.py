from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest
from crawl_testutil import Reply

from tasks.common.params import ParamError
from tasks.crawl.github import GithubConfig, GithubError, github_config_from_params, search_query, search_repositories

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "ghp_test_secret_token_123"


def _page(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Api:
    """Serves the recorded search pages: by language, page 2 through a Link header; page 1 of Python is
    first answered with a primary rate limit (X-RateLimit-Remaining: 0)."""

    def __init__(self, server, *, rate_limited: bool = True, reset_in: int = 5):
        self.server = server
        self.rate_limited = rate_limited
        self.reset_in = reset_in
        self.now = 1_700_000_000.0
        server.dynamic["/search/repositories"] = self

    def __call__(self, path: str, headers: dict[str, str]) -> Reply:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
        q, page = query["q"][0], query.get("page", ["1"])[0]
        if self.rate_limited:
            self.rate_limited = False
            return Reply(403, b'{"message": "API rate limit exceeded"}', {
                "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(self.now) + self.reset_in)})
        if "language:Python" in q:
            if page == "1":
                nxt = f"{self.server.url}/search/repositories?q={urllib.parse.quote(q)}&per_page=2&page=2"
                return Reply(200, _page("github_search_python_p1.json"), {"Link": f'<{nxt}>; rel="next"'})
            return Reply(200, _page("github_search_python_p2.json"))
        if "language:Go" in q:
            return Reply(200, _page("github_search_go_p1.json"))
        return Reply(422, b'{"message": "Validation Failed"}')


def _cfg(server, **kw) -> GithubConfig:
    return GithubConfig(**{"enabled": True, "api_url": server.url, "languages": ("Python", "Go"), "per_page": 2,
                           "max_pages": 3, "max_repos": 10, "max_wait_s": 60, **kw})


def test_search_pages_rate_limit_and_specs(server, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    api = Api(server)
    sleeps: list[float] = []
    specs = search_repositories(_cfg(server, snapshot_before="2023-02-01"), sleep=sleeps.append, now=lambda: api.now)
    assert sleeps == [6.0]  # waited until the reset (+1 s), once
    assert [s["name"] for s in specs] == ["pallets/flask", "psf/requests", "spf13/cobra", "pallets/click"]
    flask = specs[0]
    assert flask == {"type": "git", "url": "https://github.com/pallets/flask.git", "name": "pallets/flask",
                     "stars": 65000, "created_at": "2010-04-06T11:11:59Z", "license": "BSD-3-Clause",
                     "before": "2023-02-01"}
    assert "license" not in specs[2] and "license" not in specs[3]  # null and NOASSERTION
    first_q = urllib.parse.parse_qs(urllib.parse.urlparse(server.log[0][0]).query)
    assert first_q["q"] == ["created:<2023-02-01 stars:>=100 language:Python"] and first_q["sort"] == ["stars"]
    assert all(h.get("Authorization") == f"Bearer {TOKEN}" for _, h in server.log)
    assert TOKEN not in json.dumps(specs)


def test_max_repos_and_max_pages(server):
    Api(server, rate_limited=False)
    specs = search_repositories(_cfg(server, max_repos=2), sleep=lambda s: None)
    assert [s["name"] for s in specs] == ["pallets/flask", "psf/requests"]
    server.log.clear()
    search_repositories(_cfg(server, max_pages=1, languages=("Python",)), sleep=lambda s: None)
    assert len(server.log) == 1


def test_long_rate_limit_and_errors_do_not_leak_the_token(server, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    api = Api(server, reset_in=3600)
    with pytest.raises(GithubError, match="rate limited") as err:
        search_repositories(_cfg(server), sleep=lambda s: None, now=lambda: api.now)
    assert TOKEN not in str(err.value)
    Api(server, rate_limited=False)
    with pytest.raises(GithubError, match="HTTP 422") as err:
        search_repositories(_cfg(server, languages=("Cobol",)), sleep=lambda s: None)
    assert TOKEN not in str(err.value)


def test_no_token_means_no_authorization_header(server, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    Api(server, rate_limited=False)
    search_repositories(_cfg(server, languages=("Go",)), sleep=lambda s: None)
    assert all("Authorization" not in h for _, h in server.log)


def test_query_quotes_languages_with_spaces():
    cfg = GithubConfig(created_before="2023-02-01", min_stars=5)
    assert search_query(cfg, "Common Lisp") == 'created:<2023-02-01 stars:>=5 language:"Common Lisp"'
    assert search_query(cfg, "C++") == "created:<2023-02-01 stars:>=5 language:C++"


def test_config_validation():
    assert github_config_from_params(None) == GithubConfig()
    cfg = github_config_from_params({"enabled": True, "languages": ["Rust"], "min_stars": 10})
    assert cfg.enabled and cfg.languages == ("Rust",) and cfg.min_stars == 10
    for section, key in [({"per_page": 500}, "crawl.github.per_page"), ({"languages": []}, "crawl.github.languages"),
                         ({"created_before": "last year"}, "crawl.github.created_before"),
                         ({"tokn": "x"}, "crawl.github.tokn"), ({"api_url": "ftp://x"}, "crawl.github.api_url")]:
        with pytest.raises(ParamError) as err:
            github_config_from_params(section)
        assert str(err.value).startswith(key + ":")
