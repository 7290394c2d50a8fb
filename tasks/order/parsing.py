"""Parse one file with a time budget.

tree-sitter 0.26 has no parser timeout setting any more and ignores `progress_callback` for a plain
bytestring, so the source is fed through a read callback and the progress callback halts the parse
at the deadline. Any failure becomes a `ParseFailure` with a short reason instead of an exception
that would stop the shard.

The binding (py-tree-sitter 0.26.1) keeps a reference to every object the read callback returns, so
returning fresh slices of the source kept every file a worker ever parsed alive for the worker's life
(RSS climbing job after job). The callback copies each chunk into one reusable per-thread buffer and
returns a view of it: tree-sitter only needs a chunk until its next read, and what the binding keeps is
a few small views of the same buffer. After the parse the tree still reads through the callback for
`node.text` and for text predicates in queries, and that path needs real bytes: it gets fresh slices
(kept by the binding, so the extractors slice their own bytes and the queries carry no text predicates).
"""
from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

from tasks.order.languages import load_language

_CHUNK = 1 << 16
_local = threading.local()


def _chunk_buffer() -> memoryview:
    """This thread's reusable read buffer (parses on one thread run one after the other)."""
    view = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(_CHUNK))
    return view


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

    buffer = _chunk_buffer()
    size = len(source)
    parsing = True

    def read(offset: int, _point: Any) -> Any:
        n = min(_CHUNK, size - offset)
        if n <= 0:
            return b""
        if not parsing:
            return source[offset:offset + n]
        buffer[:n] = source[offset:offset + n]
        return buffer[:n]

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
    finally:
        parsing = False
    if tree is None:
        parser.reset()
        raise ParseFailure("timeout" if timed_out else "parser_error", "no tree")
    return tree
