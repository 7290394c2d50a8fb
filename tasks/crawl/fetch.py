"""HTTP(S)/file:// downloads that survive flaky registries, and a content-addressed download cache.

Retries cover what a long crawl meets: 5xx, 429 (waiting as long as Retry-After says), connection
resets, stalls (a read timeout per socket read) and truncated bodies (Content-Length or a published
checksum that does not match). Backoff is exponential with jitter drawn from an RNG seeded by
(seed, url), so a rerun waits the same way and the whole attempt is bounded by `max_fetch_s`.

The cache stores each blob once under `<cache>/blobs/sha256/<hex>`; small index files map a key
(a URL, or a canonical source spec) to a hash, so a rerun finds everything locally and makes no
request at all. Index entries are one file per key, written atomically, so parallel workers never
fight over a shared index file.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import requests
from requests.structures import CaseInsensitiveDict

from tasks.common.hashing import sha256_hex
from tasks.common.io import atomic_write_bytes, atomic_write_json
from tasks.common.retry import Backoff, RetriesExhausted, RetryLater, call_with_retries, parse_retry_after, seeded_rng

__all__ = ["BlobCache", "Digest", "FetchError", "FetchPolicy", "Fetched", "HttpClient", "fetch_cached",
           "parse_retry_after", "redact", "split_hash_fragment"]

USER_AGENT = "coder-pipeline-crawl/0.1 (+reproducible corpus build)"
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FetchPolicy:
    timeout_s: float = 30.0  # connect and per-read timeout: a stalled body counts as a failed try
    retries: int = 4  # extra attempts after the first
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0  # cap of one computed backoff (Retry-After may ask for longer)
    max_fetch_s: float = 300.0  # wall-clock bound for one URL, retries and waits included
    max_bytes: int = 512 << 20  # refuse bodies larger than this
    seed: int = 0

    @property
    def backoff(self) -> Backoff:
        return Backoff(self.retries, self.backoff_base_s, self.backoff_max_s, self.max_fetch_s)


_USERINFO = re.compile(r"(//)[^/@\s]+@")


def redact(text: str) -> str:
    """Hide `user:password@` in URLs: index URLs may carry credentials, messages end up in tables."""
    return _USERINFO.sub(r"\1***@", text)


class FetchError(Exception):
    """A download failed for good (HTTP 4xx, retries or time exhausted, checksum never matched)."""

    def __init__(self, message: str):
        super().__init__(redact(message))


class Digest(NamedTuple):
    """A published hash of an artifact: algo is a hashlib name, value its lower-case hex digest."""
    algo: str
    value: str

    def matches(self, data: bytes) -> bool:
        return hashlib.new(self.algo, data).hexdigest() == self.value

    @staticmethod
    def from_integrity(integrity: str) -> Digest | None:
        """npm/SRI `integrity` ("sha512-<base64> ..."): the strongest listed hash."""
        best: Digest | None = None
        rank = {"sha1": 0, "sha256": 1, "sha384": 2, "sha512": 3}
        for token in (integrity or "").split():
            algo, _, b64 = token.partition("-")
            algo = algo.lower()
            if algo not in rank or not b64:
                continue
            try:
                value = base64.b64decode(b64.split("?")[0], validate=True).hex()
            except ValueError:
                continue
            if best is None or rank[algo] > rank[best.algo]:
                best = Digest(algo, value)
        return best


def split_hash_fragment(url: str) -> tuple[str, Digest | None]:
    """PEP 503 links carry `#sha256=<hex>`: return the URL without it and the digest."""
    base, _, frag = url.partition("#")
    if "=" in frag:
        algo, _, value = frag.partition("=")
        if algo in ("sha256", "sha384", "sha512", "sha1", "md5") and value:
            return base, Digest(algo, value.lower())
    return base, None


class Fetched(NamedTuple):
    url: str
    body: bytes
    headers: CaseInsensitiveDict  # header names in any case


def file_url_path(url: str) -> str:
    return urllib.request.url2pathname(urllib.parse.urlparse(url).path)


class HttpClient:
    """GET with retries; one per worker (holds a requests.Session)."""

    def __init__(self, policy: FetchPolicy, *, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.policy = policy
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.sleep = sleep
        self.clock = clock
        self.requests = 0  # attempts made, for metrics and tests
        self.downloaded_bytes = 0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Equal-jitter exponential backoff for the attempt-th retry (1-based)."""
        return self.policy.backoff.delay(attempt, rng)

    def get(self, url: str, *, headers: dict[str, str] | None = None, expected: Digest | None = None) -> Fetched:
        if url.startswith("file:"):
            return self._get_file(url, expected)

        def attempt(deadline: float) -> Fetched:
            fetched = self._attempt(url, headers or {}, deadline)
            if expected is not None and not expected.matches(fetched.body):
                raise RetryLater(f"{expected.algo} mismatch (corrupt or truncated body)")
            return fetched

        try:
            return call_with_retries(attempt, self.policy.backoff, seeded_rng("fetch", self.policy.seed, url),
                                     sleep=self.sleep, clock=self.clock)
        except RetriesExhausted as exc:
            raise FetchError(f"{url}: {exc}") from None

    def _attempt(self, url: str, headers: dict[str, str], deadline: float) -> Fetched:
        remaining = deadline - self.clock()
        if remaining <= 0:
            raise FetchError(f"{url}: out of time ({self.policy.max_fetch_s}s)")
        timeout = min(self.policy.timeout_s, remaining)
        self.requests += 1
        try:
            resp = self.session.get(url, headers=headers, stream=True, timeout=(timeout, timeout))
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryLater(f"{type(exc).__name__}: {exc}") from None
        except requests.RequestException as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
        with resp:
            status = resp.status_code
            if status in _RETRY_STATUS or status >= 500:
                raise RetryLater(f"HTTP {status}", parse_retry_after(resp.headers.get("Retry-After")))
            if status >= 400:
                raise FetchError(f"{url}: HTTP {status}")
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in resp.iter_content(1 << 16):
                    size += len(chunk)
                    self.downloaded_bytes += len(chunk)
                    if size > self.policy.max_bytes:
                        raise FetchError(f"{url}: body larger than {self.policy.max_bytes} bytes")
                    if self.clock() > deadline:
                        raise FetchError(f"{url}: out of time ({self.policy.max_fetch_s}s) while reading")
                    chunks.append(chunk)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                raise RetryLater(f"body read failed: {type(exc).__name__}") from None
            body = b"".join(chunks)
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and not resp.headers.get("Content-Encoding") and int(length) != len(body):
                raise RetryLater(f"truncated body: {len(body)} of {length} bytes")
            return Fetched(resp.url, body, CaseInsensitiveDict(resp.headers))

    def _get_file(self, url: str, expected: Digest | None) -> Fetched:
        path = file_url_path(url)
        try:
            size = os.path.getsize(path)
            if size > self.policy.max_bytes:
                raise FetchError(f"{url}: file larger than {self.policy.max_bytes} bytes")
            with open(path, "rb") as fh:
                body = fh.read()
        except OSError as exc:
            raise FetchError(f"{url}: {exc.strerror or exc}") from None
        if expected is not None and not expected.matches(body):
            raise FetchError(f"{url}: {expected.algo} mismatch")
        return Fetched(url, body, CaseInsensitiveDict())


class BlobCache:
    """Content-addressed store: blobs/sha256/<hex>, plus index/<sha256(key)>.json -> {key, sha256, ...}."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def blob_path(self, hexdigest: str) -> Path:
        return self.root / "blobs" / "sha256" / hexdigest

    def put(self, data: bytes) -> str:
        hexdigest = sha256_hex(data)
        if self.get(hexdigest) is None:  # absent or damaged: (re)write it
            atomic_write_bytes(self.blob_path(hexdigest), data)
        return hexdigest

    def get(self, hexdigest: str) -> bytes | None:
        """The blob, or None when absent or damaged (its bytes no longer hash to its name)."""
        try:
            data = self.blob_path(hexdigest).read_bytes()
        except OSError:
            return None
        return data if sha256_hex(data) == hexdigest else None

    def _index_path(self, key: str) -> Path:
        return self.root / "index" / (sha256_hex(key.encode("utf-8")) + ".json")

    def lookup(self, key: str) -> dict[str, Any] | None:
        try:
            entry = json.loads(self._index_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def record(self, key: str, entry: dict[str, Any]) -> None:
        atomic_write_json(self._index_path(key), {**entry, "key": key})


def fetch_cached(client: HttpClient, cache: BlobCache, url: str, expected: Digest | None = None) -> tuple[bytes, bool]:
    """(bytes, from_cache) of a URL through the cache; the published digest is checked both ways."""
    entry = cache.lookup("url:" + url)
    if entry:
        data = cache.get(entry.get("sha256", ""))
        if data is not None and (expected is None or expected.matches(data)):
            return data, True
    data = client.get(url, expected=expected).body
    hexdigest = cache.put(data)
    cache.record("url:" + url, {"sha256": hexdigest, "size": len(data)})
    return data, False
