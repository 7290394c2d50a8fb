"""Parse one file with a time budget.

tree-sitter 0.26 has no parser timeout setting any more and ignores `progress_callback` for a plain
bytestring, so the source is fed through a read callback and the progress callback halts the parse
at the deadline. Any failure becomes a `ParseFailure` with a short reason instead of an exception
that would stop the shard.
"""
from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from tasks.order.languages import load_language

_CHUNK = 1 << 16


class ParseFailure(Exception):
    """A file could not be parsed; `reason` is the counted key (`timeout`, `parser_error`)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@lru_cache(maxsize=None)
def _parser(key: str) -> Any:
    from tree_sitter import Parser

    return Parser(load_language(key))


def parse(key: str, source: bytes, timeout_ms: int) -> Any:
    """Syntax tree of `source` with grammar `key`; raises ParseFailure on timeout or error."""
    parser = _parser(key)
    parser.reset()
    deadline = time.monotonic() + timeout_ms / 1000.0
    timed_out = False

    def read(offset: int, _point: Any) -> bytes:
        return source[offset:offset + _CHUNK]

    def progress(_offset: int, _has_error: bool) -> bool:
        nonlocal timed_out
        if time.monotonic() > deadline:
            timed_out = True
        return timed_out

    try:
        tree = parser.parse(read, progress_callback=progress)
    except Exception as exc:  # the binding raises ValueError("Parsing failed") when halted
        parser.reset()
        raise ParseFailure("timeout" if timed_out else "parser_error", type(exc).__name__) from None
    if tree is None:
        parser.reset()
        raise ParseFailure("timeout" if timed_out else "parser_error", "no tree")
    return tree
