"""One headless chromium per test module that asks for it; skipped with a reason where it is absent."""
from __future__ import annotations

from typing import Iterator

import pytest
import report_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[report_chromium.Browser]:
    if not report_chromium.available():
        pytest.skip(f"{report_chromium.CHROMIUM} not found: install Debian's chromium (make system-deps)")
    b = report_chromium.Browser()
    try:
        yield b
    finally:
        b.close()
