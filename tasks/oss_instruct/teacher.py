"""The teacher: an OpenAI-compatible chat completions endpoint (OpenAI, vLLM, llama.cpp server, ...).

`POST {base_url}/chat/completions` with httpx. Transient failures (429 honouring Retry-After, 408,
425, 5xx, timeouts including a stalled body, connection resets, a 200 whose body is not a chat
completion) are retried with the shared seeded backoff (`tasks.common.retry`); other 4xx fail at
once. A concurrency cap (the caller's thread pool) and an optional requests-per-minute pacing keep
the endpoint's rate limits.

Every answer is written to the response cache the moment it arrives, keyed by
`prompt.cache_key(model, messages, sampling)` - not by the endpoint or the key - so a killed run
resumes without paying again for any seed it already got an answer for, and the same cache serves
any endpoint hosting the same model. Failures are never cached: a rerun asks again.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tasks.common.io import atomic_write_json
from tasks.common.retry import RetriesExhausted, RetryLater, call_with_retries, parse_retry_after, seeded_rng
from tasks.oss_instruct.config import TeacherConfig
from tasks.oss_instruct.prompt import cache_key

_RETRY_STATUS = frozenset({408, 425, 429})
USER_AGENT = "coder-pipeline-oss-instruct/0.1"


class TeacherError(Exception):
    """The teacher gave no usable answer for one prompt (a 4xx, or retries/time exhausted)."""


@dataclass(frozen=True)
class Answer:
    content: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False


class ResponseCache:
    """One JSON file per answer under `<root>/responses/<key[:2]>/<key>.json`, written atomically."""

    def __init__(self, root: str | Path):
        self.root = Path(root) / "responses"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Answer | None:
        try:
            entry = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("answer"), dict):
            return None
        a = entry["answer"]
        if not isinstance(a.get("content"), str):
            return None
        return Answer(a["content"], a.get("finish_reason"), int(a.get("prompt_tokens") or 0),
                      int(a.get("completion_tokens") or 0), cached=True)

    def put(self, key: str, request: dict[str, Any], answer: Answer) -> None:
        atomic_write_json(self.path(key), {
            "key": key, "request": request,
            "answer": {"content": answer.content, "finish_reason": answer.finish_reason,
                       "prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens}})


class RateLimiter:
    """At most `per_minute` request starts per minute, evenly spaced (shared by all threads)."""

    def __init__(self, per_minute: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self.sleep(start - now)


@dataclass
class RunCounters:
    """What this run spent (differs between a fresh run and a rerun: reported, never a DVC metric)."""

    requests: int = 0  # HTTP attempts
    retries: int = 0
    cache_hits: int = 0
    answered: int = 0  # answers received over HTTP this run
    failed: int = 0  # prompts given up on
    prompt_tokens: int = 0
    completion_tokens: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **kw: int) -> None:
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def to_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("requests", "retries", "cache_hits", "answered", "failed",
                                               "prompt_tokens", "completion_tokens")}


def _parse_completion(data: Any) -> Answer:
    """The first choice of a chat completion; RetryLater when the body is not one."""
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("content is not a string")
        usage = data.get("usage") or {}
        return Answer(content, choice.get("finish_reason"), int(usage.get("prompt_tokens") or 0),
                      int(usage.get("completion_tokens") or 0))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise RetryLater(f"malformed completion: {type(exc).__name__}: {exc}") from None


class TeacherClient:
    """Chat completions through the cache; safe to call from many threads at once."""

    def __init__(self, cfg: TeacherConfig, cache: ResponseCache, *, api_key: str | None = None, seed: int = 0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 transport: httpx.BaseTransport | None = None):
        if not cfg.base_url:
            raise ValueError("TeacherClient needs teacher.base_url")
        self.cfg, self.cache, self.seed = cfg, cache, seed
        self.sleep, self.clock = sleep, clock
        self.limiter = RateLimiter(cfg.requests_per_minute, clock, sleep)
        self.counters = RunCounters()
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.url = f"{cfg.base_url.rstrip('/')}/chat/completions"
        self.http = httpx.Client(headers=headers, transport=transport, follow_redirects=False,
                                 limits=httpx.Limits(max_connections=cfg.concurrency,
                                                     max_keepalive_connections=cfg.concurrency))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TeacherClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {"model": self.cfg.model, "messages": messages, **self.cfg.sampling()}

    def complete(self, messages: list[dict[str, str]]) -> Answer:
        """The answer for `messages`: from the cache, else from the endpoint (then cached at once)."""
        key = cache_key(self.cfg.model, messages, self.cfg.sampling())
        found = self.cache.get(key)
        if found is not None:
            self.counters.add(cache_hits=1)
            return found
        body = self.request_body(messages)

        def on_retry(attempt: int, exc: RetryLater, wait: float) -> None:
            self.counters.add(retries=1)

        try:
            answer = call_with_retries(lambda deadline: self._attempt(body, deadline), self.cfg.backoff,
                                       seeded_rng("oss_instruct.teacher", self.seed, key), sleep=self.sleep,
                                       clock=self.clock, on_retry=on_retry)
        except RetriesExhausted as exc:
            self.counters.add(failed=1)
            raise TeacherError(str(exc)) from None
        except TeacherError:
            self.counters.add(failed=1)
            raise
        self.cache.put(key, body, answer)
        self.counters.add(answered=1, prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens)
        return answer

    def _attempt(self, body: dict[str, Any], deadline: float) -> Answer:
        remaining = deadline - self.clock()
        if remaining <= 0:
            raise TeacherError(f"out of time ({self.cfg.max_request_s}s)")
        timeout = min(self.cfg.timeout_s, remaining)
        self.limiter.wait()
        self.counters.add(requests=1)
        try:
            resp = self.http.post(self.url, json=body, timeout=httpx.Timeout(timeout))
        except httpx.TimeoutException as exc:
            raise RetryLater(f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:  # connection refused or reset, protocol errors
            raise RetryLater(f"{type(exc).__name__}: {exc}") from None
        status = resp.status_code
        if status in _RETRY_STATUS or status >= 500:
            raise RetryLater(f"HTTP {status}", parse_retry_after(resp.headers.get("Retry-After")))
        if status >= 400:
            raise TeacherError(f"HTTP {status}: {resp.text[:200]}")
        try:
            data = resp.json()
        except ValueError:
            raise RetryLater("response body is not JSON") from None
        return _parse_completion(data)
