"""What a secrets/PII scan reports: a typed span, never the value.

A `Finding` holds the type, the character span in the scanned text and the detector that found it,
and nothing else: the secret itself is not stored anywhere in it, so no repr, log line, metric or
exception built from findings can carry a secret. Code that needs the value slices the text it
scanned (`text[f.start:f.end]`), as `redact` does, and must not let it out.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

# The four redaction types (StarCoder / The Stack v2 placeholders).
EMAIL = "EMAIL"
IP_ADDRESS = "IP_ADDRESS"
KEY = "KEY"
PASSWORD = "PASSWORD"
TYPES: tuple[str, ...] = (EMAIL, IP_ADDRESS, KEY, PASSWORD)
# When two findings overlap, the more specific secret wins (a password inside a URL beats the email
# regex that saw `user:pass@host.com`, a token beats the keyword rule that found the same value).
PRIORITY: dict[str, int] = {KEY: 0, PASSWORD: 1, EMAIL: 2, IP_ADDRESS: 3}


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """A span [start, end) of the scanned text that holds a secret or personal datum of `type`."""

    start: int
    end: int
    type: str
    detector: str  # e.g. "detect-secrets:AWSKeyDetector", "regex:email"

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown finding type {self.type!r}; expected one of {', '.join(TYPES)}")
        if not 0 <= self.start < self.end:
            raise ValueError(f"bad span [{self.start}, {self.end}) for a {self.type} finding")

    def __repr__(self) -> str:  # explicit, so that a future field cannot slip a value into it
        return f"Finding(type={self.type}, start={self.start}, end={self.end}, detector={self.detector})"

    __str__ = __repr__


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Sorted findings without overlaps: of overlapping findings the higher-priority type wins, then the
    longer span (so the whole secret is redacted), then the earlier one."""
    ranked = sorted(findings, key=lambda f: (PRIORITY[f.type], -(f.end - f.start), f.start, f.detector))
    kept: list[Finding] = []  # sorted by start, pairwise disjoint: only the neighbours can overlap
    starts: list[int] = []
    for f in ranked:
        i = bisect.bisect_left(starts, f.start)
        if (i > 0 and kept[i - 1].end > f.start) or (i < len(kept) and kept[i].start < f.end):
            continue
        kept.insert(i, f)
        starts.insert(i, f.start)
    return kept
