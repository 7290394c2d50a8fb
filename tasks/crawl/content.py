"""Decide whether a file's bytes become text in the corpus: binary sniffing and strict UTF-8.

Text is kept only as valid UTF-8 (a UTF-8 BOM is dropped) so every later stage can treat `content`
as str without guessing encodings; anything else keeps its row (size, hash) with content null and a
reason, so the filter stage can count what was lost.
"""
from __future__ import annotations

from typing import NamedTuple

SNIFF_BYTES = 8192
# Share of control bytes in the sniffed head above which a NUL-free file still counts as binary.
CONTROL_SHARE = 0.30
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
# Control bytes that ordinary text contains: \b \t \n \v \f \r and ESC (ANSI colour codes).
_TEXT_CONTROLS = frozenset(b"\x08\t\n\x0b\x0c\r\x1b")
_IS_CONTROL = bytes(1 if (b < 32 and b not in _TEXT_CONTROLS) or b == 127 else 0 for b in range(256))


class Decoded(NamedTuple):
    content: str | None
    is_binary: bool
    skip_reason: str | None  # None, "binary", "invalid_utf8" or "too_large"


def has_utf16_bom(head: bytes) -> bool:
    return head.startswith(_UTF16_32_BOMS)


def looks_binary(head: bytes) -> bool:
    """True for a NUL byte or too many control bytes in the first SNIFF_BYTES (UTF-16 BOM excepted)."""
    head = head[:SNIFF_BYTES]
    if not head or has_utf16_bom(head):
        return False
    if b"\x00" in head:
        return True
    controls = sum(_IS_CONTROL[b] for b in head)
    return controls / len(head) > CONTROL_SHARE


def decode(data: bytes | None, head: bytes = b"") -> Decoded:
    """Content and reason for one file; `data` None means it was over the size cap (`head` is sniffed)."""
    if data is None:
        return Decoded(None, looks_binary(head), "too_large")
    if has_utf16_bom(data):  # UTF-16/32 text is not UTF-8: keep the row, not the text
        return Decoded(None, False, "invalid_utf8")
    if looks_binary(data):
        return Decoded(None, True, "binary")
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
    try:
        return Decoded(data.decode("utf-8", errors="strict"), False, None)
    except UnicodeDecodeError:
        return Decoded(None, False, "invalid_utf8")
