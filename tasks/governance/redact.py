"""Replace findings with typed placeholders: `redact(text, findings) -> (new_text, counts_by_type)`.

Spans cover the secret only, never its quotes or the `=` before it, so `password = "hunter2"`
becomes `password = "<PASSWORD>"` and the file still parses. IP addresses can instead get
StarCoder's synthetic private addresses (bigcode-dataset pii: the same five IPv4 and five IPv6
replacements), the same replacement for the same address within a file, assigned in order of first
appearance, so the replacement says nothing about the original. A redacted text scans clean: the
placeholders and the synthetic addresses (private ranges) are not findings themselves.
"""
from __future__ import annotations

from collections import Counter

from tasks.governance.config import RedactConfig
from tasks.governance.findings import IP_ADDRESS, TYPES, Finding

SYNTHETIC_IPV4 = ("172.16.31.10", "172.16.58.3", "172.16.17.32", "192.168.127.12", "192.168.3.11")
SYNTHETIC_IPV6 = ("fd00:c2b6:b24b:be67:2827:688d:e6a1:6a3b", "fd00:a516:7c1b:17cd:6d81:2137:bd2a:2c5b",
                  "fc00:e968:6179::de52:7100", "fc00:db20:35b:7399::5", "fdf8:f53e:61e4::18")


def redact(text: str, findings: list[Finding], cfg: RedactConfig | None = None) -> tuple[str, dict[str, int]]:
    """`text` with every finding replaced, and how many of each type were replaced (every type listed).

    Findings must lie within the text and not overlap (as `scan` returns them)."""
    cfg = cfg or RedactConfig()
    ordered = sorted(findings)
    counts: Counter[str] = Counter()
    synthetic: dict[str, str] = {}
    parts: list[str] = []
    pos = 0
    for f in ordered:
        if f.start < pos or f.end > len(text):
            raise ValueError(f"{f!r} overlaps the previous finding or lies past the end of a "
                             f"{len(text)}-character text")
        parts.append(text[pos:f.start])
        if f.type == IP_ADDRESS and cfg.ip_replacement == "synthetic":
            value = text[f.start:f.end]
            if value not in synthetic:
                pool = SYNTHETIC_IPV6 if ":" in value else SYNTHETIC_IPV4
                synthetic[value] = pool[sum(1 for v in synthetic if (":" in v) == (":" in value)) % len(pool)]
            parts.append(synthetic[value])
        else:
            parts.append(cfg.placeholders[f.type])
        counts[f.type] += 1
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), {t: counts.get(t, 0) for t in TYPES}
