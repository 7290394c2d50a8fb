from __future__ import annotations

import base64
import hashlib
import time

import pytest
from crawl_testutil import Reply

from tasks.crawl.fetch import (
    BlobCache,
    Digest,
    FetchError,
    FetchPolicy,
    HttpClient,
    fetch_cached,
    parse_retry_after,
    split_hash_fragment,
)

BODY = b"artifact bytes " * 100
FAST = FetchPolicy(timeout_s=2.0, retries=3, backoff_base_s=0.01, backoff_max_s=0.05, max_fetch_s=20.0, seed=7)


class Sleeps:
    """A fake sleep that records waits (and optionally advances a fake clock)."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 0.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def test_retries_5xx_then_succeeds_with_seeded_jittered_backoff(server):
    server.add("/a", Reply(500), Reply(503), Reply(200, BODY))
    sleeps = Sleeps()
    client = HttpClient(FAST, sleep=sleeps)
    assert client.get(server.url + "/a").body == BODY
    assert client.requests == 3 and len(sleeps.calls) == 2
    assert 0.005 <= sleeps.calls[0] <= 0.01 and 0.01 <= sleeps.calls[1] <= 0.02  # equal jitter in [d/2, d]


def test_same_seed_same_waits_other_seed_other_waits(server):
    def waits(seed: int) -> list[float]:
        server.routes.pop("/w", None)
        server.add("/w", Reply(500), Reply(500), Reply(500), Reply(200, BODY))
        sleeps = Sleeps()
        HttpClient(FetchPolicy(retries=3, backoff_base_s=0.01, seed=seed), sleep=sleeps).get(server.url + "/w")
        return sleeps.calls

    assert waits(1) == waits(1)
    assert waits(1) != waits(2)


def test_429_honours_retry_after(server):
    server.add("/r", Reply(429, headers={"Retry-After": "3"}), Reply(200, BODY))
    sleeps = Sleeps()
    assert HttpClient(FAST, sleep=sleeps).get(server.url + "/r").body == BODY
    assert sleeps.calls == [3.0]


def test_retry_after_beyond_the_deadline_gives_up(server):
    server.add("/r", Reply(429, headers={"Retry-After": "3600"}))
    sleeps = Sleeps()
    with pytest.raises(FetchError, match="out of time"):
        HttpClient(FAST, sleep=sleeps, clock=sleeps.clock).get(server.url + "/r")
    assert sleeps.calls == []


def test_truncated_body_is_retried(server):
    server.add("/t", Reply(200, BODY, mode="truncate"), Reply(200, BODY))
    client = HttpClient(FAST, sleep=Sleeps())
    assert client.get(server.url + "/t").body == BODY
    assert client.requests == 2


def test_connection_reset_is_retried(server):
    server.add("/c", Reply(mode="reset"), Reply(200, BODY))
    client = HttpClient(FAST, sleep=Sleeps())
    assert client.get(server.url + "/c").body == BODY
    assert client.requests == 2


def test_stalled_body_times_out_and_is_retried(server):
    server.add("/s", Reply(200, BODY, mode="stall", delay=1.5), Reply(200, BODY))
    client = HttpClient(FetchPolicy(timeout_s=0.3, retries=2, backoff_base_s=0.01), sleep=Sleeps())
    start = time.monotonic()
    assert client.get(server.url + "/s").body == BODY
    assert client.requests == 2 and time.monotonic() - start < 1.4


def test_checksum_mismatch_fails_after_all_retries(server):
    server.add("/x", Reply(200, b"tampered"))
    client = HttpClient(FAST, sleep=Sleeps())
    with pytest.raises(FetchError, match="sha256 mismatch"):
        client.get(server.url + "/x", expected=Digest("sha256", hashlib.sha256(BODY).hexdigest()))
    assert client.requests == FAST.retries + 1


def test_client_errors_are_not_retried(server):
    client = HttpClient(FAST, sleep=Sleeps())
    with pytest.raises(FetchError, match="HTTP 404"):
        client.get(server.url + "/missing")
    assert client.requests == 1


def test_total_time_is_bounded(server):
    server.add("/down", Reply(503))
    sleeps = Sleeps()
    policy = FetchPolicy(retries=50, backoff_base_s=1.0, backoff_max_s=4.0, max_fetch_s=10.0)
    with pytest.raises(FetchError, match="out of time"):
        HttpClient(policy, sleep=sleeps, clock=sleeps.clock).get(server.url + "/down")
    assert sum(sleeps.calls) <= 10.0 and len(sleeps.calls) < 50


def test_body_size_cap(server):
    server.add("/big", Reply(200, b"x" * 5000))
    with pytest.raises(FetchError, match="larger than"):
        HttpClient(FetchPolicy(max_bytes=1000)).get(server.url + "/big")


def test_file_urls(tmp_path):
    path = tmp_path / "a b.tar.gz"
    path.write_bytes(BODY)
    client = HttpClient(FAST)
    assert client.get(path.as_uri()).body == BODY
    with pytest.raises(FetchError):
        client.get((tmp_path / "nope").as_uri())
    with pytest.raises(FetchError, match="mismatch"):
        client.get(path.as_uri(), expected=Digest("sha256", "0" * 64))


def test_cache_makes_a_rerun_download_nothing_and_heals_damage(server, tmp_path):
    server.add("/pkg.tgz", Reply(200, BODY))
    cache = BlobCache(tmp_path / "cache")
    digest = Digest("sha256", hashlib.sha256(BODY).hexdigest())
    client = HttpClient(FAST)
    assert fetch_cached(client, cache, server.url + "/pkg.tgz", digest) == (BODY, False)
    blob = cache.blob_path(digest.value)
    assert blob.read_bytes() == BODY
    again = HttpClient(FAST)
    assert fetch_cached(again, cache, server.url + "/pkg.tgz", digest) == (BODY, True)
    assert again.requests == 0 and server.hits("/pkg.tgz") == 1
    blob.write_bytes(b"bit rot")
    assert fetch_cached(HttpClient(FAST), cache, server.url + "/pkg.tgz", digest) == (BODY, False)
    assert server.hits("/pkg.tgz") == 2 and blob.read_bytes() == BODY


def test_npm_integrity_and_pep503_fragment_parsing():
    sha512 = hashlib.sha512(BODY).digest()
    integrity = "sha1-" + base64.b64encode(hashlib.sha1(BODY).digest()).decode() + \
        " sha512-" + base64.b64encode(sha512).decode()
    digest = Digest.from_integrity(integrity)
    assert digest == Digest("sha512", sha512.hex()) and digest.matches(BODY)
    assert Digest.from_integrity("md5-xxxx") is None
    url, frag = split_hash_fragment("https://x/y/p-1.0.tar.gz#sha256=ABCDEF")
    assert url == "https://x/y/p-1.0.tar.gz" and frag == Digest("sha256", "abcdef")
    assert split_hash_fragment("https://x/y.tar.gz") == ("https://x/y.tar.gz", None)


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_credentials_in_urls_never_reach_error_messages(server):
    url = server.url.replace("http://", "http://user:s3cret@") + "/missing"
    with pytest.raises(FetchError) as err:
        HttpClient(FAST).get(url)
    assert "s3cret" not in str(err.value) and "***@" in str(err.value)
