"""The `order` section of params.yaml, validated once at stage start."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.common.params import ParamError, number

_KEYS = ("max_parse_bytes", "parse_timeout_ms", "max_sample_bytes")


@dataclass(frozen=True)
class Config:
    """Knobs of the order stage (picklable: passed to worker processes)."""

    max_parse_bytes: int = 1_000_000  # bigger files are not parsed and stay single-file samples
    parse_timeout_ms: int = 2_000  # per-file parser budget; a timeout gives no edges and a counted reason
    max_sample_bytes: int | None = None  # None = no limit; else split ordered subgraphs into chunks


def config_from_params(section: dict[str, Any] | None) -> Config:
    """Config from params.yaml's `order` section; raises ParamError naming `order.<key>`."""
    section = {} if section is None else section
    if not isinstance(section, dict):
        raise ParamError("order: section must be a mapping")
    unknown = sorted(set(section) - set(_KEYS))
    if unknown:
        raise ParamError(f"order.{unknown[0]}: unknown key (expected one of {', '.join(_KEYS)})")
    root = {"order": section}
    default = Config()
    max_sample = section.get("max_sample_bytes")
    return Config(
        max_parse_bytes=int(number(root, "order.max_parse_bytes", lo=0, lo_open=True, integer=True,
                                   default=default.max_parse_bytes)),
        parse_timeout_ms=int(number(root, "order.parse_timeout_ms", lo=0, lo_open=True, integer=True,
                                    default=default.parse_timeout_ms)),
        max_sample_bytes=None if max_sample is None else int(
            number(root, "order.max_sample_bytes", lo=0, lo_open=True, integer=True)),
    )
