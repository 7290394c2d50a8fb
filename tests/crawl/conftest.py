"""Fixtures for the crawl tests (helpers live in crawl_testutil.py)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from crawl_testutil import ScriptedServer

from tasks.crawl import sources


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


@pytest.fixture(autouse=True)
def _fresh_registry_lookups() -> Iterator[None]:
    """pip/npm registry discovery is cached per process; tests change it through the environment."""
    sources.pip_index_url.cache_clear()
    sources.npm_registry_url.cache_clear()
    yield
    sources.pip_index_url.cache_clear()
    sources.npm_registry_url.cache_clear()
