"""The governance params sections as frozen dataclasses, validated with key-named errors.

The lead's params.yaml gets one section per piece (names are the caller's choice, `pii`, `licenses`,
`optout` by default); each `*_config_from_params(section)` rejects unknown keys and bad values with a
`ParamError` that starts with the dotted key, like every stage's config.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.common.params import ParamError, checked_section, choice, get, number
from tasks.governance.findings import TYPES


def nest(name: str, section: dict[str, Any]) -> dict[str, Any]:
    """`section` placed at dotted `name` ({"governance": {"pii": section}}), so that `get(p, "<name>.key")`
    finds its keys and errors name the full dotted key."""
    out: dict[str, Any] = section
    for part in reversed(name.split(".")):
        out = {part: out}
    return out


@dataclass(frozen=True)
class ScanConfig:
    """What to look for. `ip_scope: public` (bigcode's choice) leaves private, loopback and reserved
    addresses alone; `all` also reports private ranges (10/8, 172.16/12, 192.168/16, fc00::/7)."""

    types: tuple[str, ...] = TYPES
    ip_scope: str = "public"  # public | all
    min_password_length: int = 4
    max_text_chars: int = 4_000_000  # longer texts are scanned in their first max_text_chars only

    def wants(self, kind: str) -> bool:
        return kind in self.types


@dataclass(frozen=True)
class RedactConfig:
    """How findings are replaced: typed placeholders, or for IP addresses StarCoder's synthetic
    private addresses (`ip_replacement: synthetic`), consistent within a file."""

    ip_replacement: str = "synthetic"  # synthetic | placeholder
    placeholders: dict[str, str] = field(default_factory=lambda: {t: f"<{t}>" for t in TYPES})


@dataclass(frozen=True)
class PiiConfig:
    scan: ScanConfig = field(default_factory=ScanConfig)
    redact: RedactConfig = field(default_factory=RedactConfig)


def pii_config_from_params(section: dict[str, Any] | None, name: str = "pii") -> PiiConfig:
    """Validate a `pii` params section: {types, ip_scope, min_password_length, max_text_chars, ip_replacement}."""
    sec = checked_section(section, name, ("types", "ip_scope", "min_password_length", "max_text_chars",
                                           "ip_replacement"))
    p = nest(name, sec)
    d = ScanConfig()
    types = get(p, f"{name}.types", default=list(d.types), kind=(list, tuple))
    for i, t in enumerate(types):
        if t not in TYPES:
            raise ParamError(f"{name}.types[{i}]: unknown type {t!r}; expected some of {', '.join(TYPES)}")
    if not types:
        raise ParamError(f"{name}.types: must name at least one type (or leave the stage off)")
    scan_cfg = ScanConfig(
        types=tuple(dict.fromkeys(types)),
        ip_scope=choice(p, f"{name}.ip_scope", ("public", "all"), default=d.ip_scope),
        min_password_length=int(number(p, f"{name}.min_password_length", lo=1, hi=64, integer=True,
                                       default=d.min_password_length)),
        max_text_chars=int(number(p, f"{name}.max_text_chars", lo=1, integer=True, default=d.max_text_chars)),
    )
    redact_cfg = RedactConfig(ip_replacement=choice(p, f"{name}.ip_replacement", ("synthetic", "placeholder"),
                                                    default=RedactConfig.ip_replacement))
    return PiiConfig(scan=scan_cfg, redact=redact_cfg)




@dataclass(frozen=True)
class GovernanceConfig:
    """All three pieces, for a params.yaml `governance` section with `pii`, `licenses`, `optout` inside."""

    pii: PiiConfig = field(default_factory=PiiConfig)
    licenses: Any = None  # tasks.governance.license_policy.LicensePolicy
    optout: Any = None  # tasks.governance.optout.OptOutList


def config_from_params(section: dict[str, Any] | None, name: str = "governance") -> GovernanceConfig:
    """Validate a `governance` section: {pii: {...}, licenses: {...}, optout: {...}}, each optional."""
    from tasks.governance.license_policy import license_policy_from_params
    from tasks.governance.optout import optout_from_params

    sec = checked_section(section, name, ("pii", "licenses", "optout"))
    return GovernanceConfig(pii=pii_config_from_params(sec.get("pii"), f"{name}.pii"),
                            licenses=license_policy_from_params(sec.get("licenses"), f"{name}.licenses"),
                            optout=optout_from_params(sec.get("optout"), f"{name}.optout"))
