"""The `redact` section of params.yaml, validated at stage start (errors name the dotted key)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.common.params import ParamError, checked_section
from tasks.governance.config import PiiConfig, pii_config_from_params

SECTION = "redact"
_PII_KEYS = ("types", "ip_scope", "min_password_length", "max_text_chars", "ip_replacement")


@dataclass(frozen=True)
class Config:
    enabled: bool = True
    pii: PiiConfig = field(default_factory=PiiConfig)
    max_residual: int = 0     # gate: findings a rescan of the redacted text may still report


def config_from_params(section: dict[str, Any] | None) -> Config:
    sec = checked_section(section, SECTION, ("enabled", *_PII_KEYS, "gate"))
    enabled = sec.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ParamError(f"{SECTION}.enabled: expected true or false, got {enabled!r}")
    gate = checked_section(sec.get("gate"), f"{SECTION}.gate", ("max_residual",))
    residual = gate.get("max_residual", 0)
    if isinstance(residual, bool) or not isinstance(residual, int) or residual < 0:
        raise ParamError(f"{SECTION}.gate.max_residual: expected an int >= 0, got {residual!r}")
    pii = pii_config_from_params({k: v for k, v in sec.items() if k in _PII_KEYS}, name=SECTION)
    return Config(enabled=enabled, pii=pii, max_residual=residual)
