"""The teacher client against a real local HTTP server: retries, Retry-After, timeouts, resets, the
answer cache, pacing, and the API key (sent, never stored)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from oss_helpers import fast_config, with_teacher

from tasks.oss_instruct import ResponseCache, TeacherClient, TeacherError, build_messages, cache_key
from tasks.oss_instruct.teacher import RateLimiter
from tests.support.openai_server import OpenAIServer, Reply

MESSAGES = build_messages("total = sum(values)", "Python", with_tests=False)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server():
    with OpenAIServer() as s:
        yield s


def _client(tmp_path: Path, server: OpenAIServer, sleeps: Sleeps | None = None, **teacher) -> TeacherClient:
    cfg = with_teacher(fast_config(tmp_path, server.base_url), **teacher)
    return TeacherClient(cfg.teacher, ResponseCache(cfg.cache_dir), api_key="sk-secret-123", seed=cfg.seed,
                         sleep=sleeps or Sleeps())


def test_429_honours_retry_after_and_5xx_is_retried(tmp_path: Path, server: OpenAIServer) -> None:
    server.queue.extend([Reply(status=429, headers={"Retry-After": "7"}), Reply(status=500), Reply(status=503)])
    sleeps = Sleeps()
    with _client(tmp_path, server, sleeps) as client:
        answer = client.complete(MESSAGES)
    assert "[Solution]" in answer.content and not answer.cached
    assert server.requests == 4 and client.counters.retries == 3
    assert sleeps.calls[0] == 7.0  # the server's Retry-After, not the computed backoff
    assert all(0.005 <= s <= 0.05 for s in sleeps.calls[1:])  # seeded equal-jitter backoff
    body = server.bodies[-1]
    assert body["model"] == "gpt-3.5-turbo-1106" and body["temperature"] == 0.0 and body["messages"] == MESSAGES


def test_stall_longer_than_the_timeout_and_reset_are_retried(tmp_path: Path, server: OpenAIServer) -> None:
    server.queue.extend([Reply(mode="stall", delay=1.5), Reply(mode="reset")])
    start = time.monotonic()
    with _client(tmp_path, server, timeout_s=0.3) as client:
        assert "[Solution]" in client.complete(MESSAGES).content
    assert server.requests == 3 and time.monotonic() - start < 1.4


def test_malformed_body_is_retried_client_error_is_not(tmp_path: Path, server: OpenAIServer) -> None:
    server.queue.extend([Reply(body=b"<html>proxy error</html>"), Reply(body=b'{"choices": []}')])
    with _client(tmp_path, server) as client:
        assert "[Solution]" in client.complete(MESSAGES).content
        assert server.requests == 3
        server.queue.append(Reply(status=401))
        with pytest.raises(TeacherError, match="HTTP 401"):
            client.complete(build_messages("other = 1", "Python", with_tests=False))
    assert server.requests == 4


def test_retries_are_bounded(tmp_path: Path, server: OpenAIServer) -> None:
    server.on("total = sum", Reply(status=500))
    with _client(tmp_path, server, retries=2) as client:
        with pytest.raises(TeacherError, match="giving up after 3 attempts: HTTP 500"):
            client.complete(MESSAGES)
    assert server.requests == 3 and client.counters.failed == 1
    assert not list((tmp_path / "cache").rglob("*.json"))  # failures are never cached


def test_answers_are_cached_by_model_prompt_and_sampling_only(tmp_path: Path, server: OpenAIServer) -> None:
    with _client(tmp_path, server) as client:
        first = client.complete(MESSAGES)
    assert server.requests == 1
    with OpenAIServer() as other:  # another endpoint serving the same model: same cache entry
        with _client(tmp_path, other) as client:
            again = client.complete(MESSAGES)
        assert other.requests == 0 and again.cached and again.content == first.content
        assert client.counters.cache_hits == 1
        with _client(tmp_path, other, temperature=0.7) as client:
            client.complete(MESSAGES)
        assert other.requests == 1  # other sampling params: another key
    cfg = fast_config(tmp_path, server.base_url)
    key = cache_key(cfg.teacher.model, MESSAGES, cfg.teacher.sampling())
    assert ResponseCache(cfg.cache_dir).path(key).is_file()


def test_api_key_is_sent_but_never_written(tmp_path: Path, server: OpenAIServer) -> None:
    with _client(tmp_path, server) as client:
        client.complete(MESSAGES)
    assert server.auth == ["Bearer sk-secret-123"]
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            assert "sk-secret-123" not in path.read_text()


def test_requests_per_minute_spaces_request_starts() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)

    limiter = RateLimiter(120, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
    assert waits == [0.5, 1.0]  # starts at 0, 0.5, 1.0 s
    assert RateLimiter(None).interval == 0.0
