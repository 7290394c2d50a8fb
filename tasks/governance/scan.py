"""Scan one file's text for secrets and personal data: `scan(text, lang, path) -> list[Finding]`.

The detectors (`secret_rules`, `pii_rules`) each start with a cheap prefilter, so a file without any
anchor (no `@`, no key prefix, no secret keyword ...) costs a handful of substring searches. The
findings are typed spans, never values (see `findings`), with overlaps resolved by type priority.
A detector that fails on a strange file raises `ScanError` naming the detector and the error type
only: exception messages of regex or decoding errors may quote the text, and the text may hold the
very secret being looked for.
"""
from __future__ import annotations

from typing import Any, Callable

from tasks.governance import pii_rules, secret_rules
from tasks.governance.config import ScanConfig
from tasks.governance.findings import EMAIL, IP_ADDRESS, KEY, PASSWORD, Finding, resolve_overlaps


class ScanError(RuntimeError):
    """A detector failed; the message names the detector and the exception type, never the text."""


def same_length_lower(text: str) -> str:
    """text.lower() with the offsets of `text`: a character whose lower case is longer ('İ' -> 'i̇', two code
    points) stays as it is, so a span found in the lowered text is the same span in `text`."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(lc if len(lc := c.lower()) == 1 else c for c in text)


def _lazy_lower(text: str) -> Callable[[], str]:
    cache: list[str] = []

    def lower() -> str:
        if not cache:
            cache.append(same_length_lower(text))
        return cache[0]

    return lower


def scan(text: str, lang: str | None = None, path: str | None = None, cfg: ScanConfig | None = None
         ) -> list[Finding]:
    """Secrets and personal data in `text` (a file of language `lang`, at `path` when known), as sorted,
    non-overlapping findings."""
    cfg = cfg or ScanConfig()
    if len(text) > cfg.max_text_chars:
        text = text[:cfg.max_text_chars]
    lower = _lazy_lower(text)
    public_only = cfg.ip_scope == "public"
    detectors: list[tuple[str, Callable[[], Any]]] = []
    if cfg.wants(KEY) or cfg.wants(PASSWORD):
        detectors.append(("tokens", lambda: secret_rules.token_findings(text, lower)))
        detectors.append(("keywords", lambda: secret_rules.keyword_findings(text, lower, lang, path,
                                                                            cfg.min_password_length)))
    if cfg.wants(EMAIL):
        detectors.append(("email", lambda: pii_rules.email_findings(text)))
    if cfg.wants(IP_ADDRESS):
        detectors.append(("ipv4", lambda: pii_rules.ipv4_findings(text, public_only)))
        detectors.append(("ipv6", lambda: pii_rules.ipv6_findings(text, public_only)))
    found: list[Finding] = []
    for name, run in detectors:
        failure = None
        try:
            found.extend(f for f in run() if cfg.wants(f.type))
        except Exception as exc:  # noqa: BLE001 - re-raised below without the cause, whose message may quote the text
            failure = type(exc).__name__
        if failure is not None:  # raised outside the handler, so not even __context__ holds the original
            raise ScanError(f"detector {name} failed with {failure} on a {len(text)}-character "
                            f"{lang or 'unknown-language'} text")
    return resolve_overlaps(found)
