"""Detectors for personal data in code: e-mail addresses and IPv4/IPv6 addresses.

Written for speed on large corpora: every regex starts with a literal (`@`, `.`, `:`), so the regex
engine jumps between occurrences of that character instead of trying a character class at every
position, and the rest of the address is found by expanding around the hit. Candidates are then
screened by `guards` (reserved domains and addresses, file names, versions, code like `x@self.w`).
"""
from __future__ import annotations

import ipaddress
import re
from typing import Iterator

from tasks.governance import guards
from tasks.governance.findings import EMAIL, IP_ADDRESS, Finding

_DOMAIN_AFTER_AT = re.compile(r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])")
_LOCAL_BEFORE_AT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_LOCAL_CHARS = re.compile(r"[A-Za-z0-9._%+-]+$")


def email_findings(text: str) -> Iterator[Finding]:
    """RFC 5322-ish addresses (dot-atom local part) at a real-looking domain."""
    if "@" not in text:
        return
    for m in _DOMAIN_AFTER_AT.finditer(text):
        at = m.start()
        lm = _LOCAL_CHARS.search(text, max(0, at - 64), at)
        if lm is None:
            continue
        start = lm.start()
        while start < at and text[start] in ".-+":  # a local part does not start with a dot or dash
            start += 1
        local = text[start:at]
        if not local or local.endswith(".") or ".." in local:
            continue
        prev = text[start - 1] if start > 0 else ""
        if prev in ":/" and text[max(0, start - 3):start] != "to:" and "://" in text[max(0, start - 80):start]:
            continue  # userinfo of a URL (scheme://user:pass@host): BasicAuth's business, not an address
        if prev and (prev.isalnum() or prev in "_@"):
            continue
        domain = m.group(1)
        if local == "git" and text[m.end():m.end() + 1] == ":":
            continue  # git@github.com:owner/repo.git: an SSH remote, not a mailbox
        if guards.is_documentation_email(local, domain):
            continue
        yield Finding(start, m.end(), EMAIL, "regex:email")


_PREFIX_LEN = re.compile(r"/(\d{1,3})(?!\d)")


def _is_network(text: str, end: int, host_bits: int) -> bool:
    """`a.b.c.d/n` with n < 32 (or an IPv6 prefix under /128) is a network range in an allowlist or a
    routing table, not one host's address."""
    m = _PREFIX_LEN.match(text, end)
    return m is not None and int(m.group(1)) < host_bits


_V4_TAIL = re.compile(r"\.(?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d)"
                      r"(?![\d])")
_V4_HEAD = re.compile(r"(?:25[0-5]|2[0-4]\d|1?\d?\d)$")


def ipv4_findings(text: str, public_only: bool = True) -> Iterator[Finding]:
    """Dotted-quad addresses outside version strings, documentation ranges and (by default) private nets."""
    for m in _V4_TAIL.finditer(text):
        head = _V4_HEAD.search(text, max(0, m.start() - 3), m.start())
        if head is None:
            continue
        start, end = head.start(), m.end()
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "._"):
            continue  # part of a longer dotted run or an identifier
        if text[end:end + 1].isalpha() or text[end:end + 1] == "_":
            continue
        value = text[start:end]
        if value.split(".")[0].startswith("0") and value.split(".")[0] != "0":
            continue
        if guards.ipv4_in_version_context(text, start, end) or _is_network(text, end, 32):
            continue
        if guards.ip_is_sensitive(value, public_only=public_only):
            yield Finding(start, end, IP_ADDRESS, "regex:ipv4")


_V6_SEED = re.compile(r":[0-9A-Fa-f]{0,4}:")
_V6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def ipv6_findings(text: str, public_only: bool = True) -> Iterator[Finding]:
    """IPv6 addresses: a `:hex:` seed grown to the maximal run of hex digits, colons and dots, then
    validated by `ipaddress` (times, MAC addresses and C++ `a::b` do not survive)."""
    if "::" not in text and text.count(":") < 7:
        return
    done_until = -1
    for m in _V6_SEED.finditer(text):
        if m.start() < done_until:
            continue
        start, end = m.start(), m.end()
        while start > 0 and text[start - 1] in _V6_CHARS:
            start -= 1
        while end < len(text) and text[end] in _V6_CHARS:
            end += 1
        done_until = end
        while end > start and text[end - 1] in ".":
            end -= 1
        if (start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_")) or (
                end < len(text) and (text[end].isalnum() or text[end] == "_")):
            continue
        value = text[start:end]
        if "%" in value or value.count(":") < 2 or sum(c.isdigit() for c in value) < 2:
            continue
        try:
            ip = ipaddress.IPv6Address(value)
        except ValueError:
            continue
        if ip.ipv4_mapped is None and len(value.replace(":", "")) < 5:
            continue  # `::1`-sized fragments of code (e.g. `a::b:1`) rather than written addresses
        if not _is_network(text, end, 128) and guards.ip_is_sensitive(value, public_only=public_only):
            yield Finding(start, end, IP_ADDRESS, "regex:ipv6")
