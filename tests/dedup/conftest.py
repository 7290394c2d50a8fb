"""Fixtures for the dedup tests: a real Redis server when one can be started (tests/support/services.py)."""
from __future__ import annotations

import pytest

from tests.support.services import ServiceUnavailable, redis_server as start_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    """A real redis-server on 127.0.0.1 and a free port for this module, or skip saying what is missing."""
    try:
        with start_redis(tmp_path_factory.mktemp("redis")) as server:
            yield server
    except ServiceUnavailable as exc:
        pytest.skip(str(exc))
