"""Bounded retries with seeded, jittered exponential backoff, shared by every client that talks to a
flaky service (the crawl's downloads, the OSS-Instruct teacher API).

One attempt either returns, raises `RetryLater` (a transient failure: 5xx, 429, reset, stall; it may
carry the wait a Retry-After header asked for), or raises anything else (a permanent failure, passed
through untouched). The waits come from an RNG seeded by the caller's key, so a rerun waits the same
way, and the whole call, waits included, is bounded by `max_total_s`.
"""
from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tasks.common.hashing import stable_hash64

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """How often and how long to wait between attempts."""

    retries: int = 4  # extra attempts after the first
    base_s: float = 0.5
    max_s: float = 30.0  # cap of one computed wait (Retry-After may ask for longer)
    max_total_s: float = 300.0  # wall-clock bound of one call, attempts and waits included

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Equal-jitter exponential backoff for the attempt-th retry (1-based): in [step/2, step]."""
        step = min(self.max_s, self.base_s * 2 ** (attempt - 1))
        return step / 2 + rng.random() * step / 2


class RetryLater(Exception):
    """A transient failure; `wait` is the server's Retry-After in seconds, when it gave one."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


class RetriesExhausted(Exception):
    """Every attempt failed transiently, or the next wait would pass the call's deadline."""

    def __init__(self, message: str, attempts: int, out_of_time: bool):
        super().__init__(message)
        self.attempts = attempts
        self.out_of_time = out_of_time


def seeded_rng(*parts: str | bytes | int) -> random.Random:
    """The jitter RNG of one call, e.g. `seeded_rng("fetch", seed, url)`."""
    return random.Random(stable_hash64(*parts))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def call_with_retries(attempt: Callable[[float], T], backoff: Backoff, rng: random.Random, *,
                      sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                      on_retry: Callable[[int, RetryLater, float], None] | None = None) -> T:
    """`attempt(deadline)` until it returns; `deadline` is on `clock`'s scale.

    Raises RetriesExhausted after `backoff.retries` retries or when the next wait would pass the
    deadline; `on_retry(attempt_no, error, wait)` is called before each wait (for counters and logs).
    """
    deadline = clock() + backoff.max_total_s
    retries = 0
    while True:
        try:
            return attempt(deadline)
        except RetryLater as exc:
            retries += 1
            if retries > backoff.retries:
                raise RetriesExhausted(f"giving up after {retries} attempts: {exc}", retries, False) from None
            delay = exc.wait if exc.wait is not None else backoff.delay(retries, rng)
            if clock() + delay > deadline:
                raise RetriesExhausted(f"out of time ({backoff.max_total_s}s) after: {exc}", retries, True) from None
            if on_retry is not None:
                on_retry(retries, exc, delay)
            sleep(delay)
