"""Licence categories (The Stack's) and the keep/drop policy a stage applies with a reason.

`classify(spdx)` -> "permissive" | "no_license" | "non_permissive" | "unknown":
- permissive: every way of taking the code is permissive (MIT, Apache-2.0, BSD-*, ISC, Zlib, ...);
  an `OR` needs one permissive alternative, an `AND` needs all parts permissive (The Stack: a repo
  is kept when its licences are all permissive);
- non_permissive: copyleft, weak copyleft, non-commercial, source-available (GPL, LGPL, AGPL, MPL,
  EPL, CC-BY-SA, CC-BY-NC, SSPL, BUSL, ...), or any identified licence not on the permissive list;
- no_license: nothing found (no licence file, no metadata): all rights reserved by default;
- unknown: a licence text or name that could not be identified (`LicenseRef-unknown`, families
  such as a bare "GPL" are classified by family).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tasks.common.params import ParamError, checked_section, get
from tasks.governance.config import nest

CATEGORIES = ("permissive", "no_license", "non_permissive", "unknown")

# The Stack's permissive set (bigcode license list), SPDX ids; `LicenseRef-BSD` / `-public-domain`
# are the families of registry names that do not say which variant.
PERMISSIVE = frozenset("""
MIT MIT-0 MIT-CMU MIT-feh X11 Apache-1.0 Apache-1.1 Apache-2.0 BSD-1-Clause BSD-2-Clause BSD-2-Clause-Patent
BSD-3-Clause BSD-3-Clause-Clear BSD-3-Clause-LBNL BSD-4-Clause 0BSD ISC Zlib zlib-acknowledgement Unlicense
CC0-1.0 CC-BY-1.0 CC-BY-2.0 CC-BY-2.5 CC-BY-3.0 CC-BY-4.0 PSF-2.0 Python-2.0 BSL-1.0 Artistic-2.0 WTFPL
NCSA PostgreSQL UPL-1.0 Unicode-DFS-2016 Unicode-3.0 HPND ZPL-2.1 ZPL-2.0 AFL-3.0 AFL-2.1 MS-PL OpenSSL
Libpng libpng-2.0 curl FTL JSON BlueOak-1.0.0 ECL-2.0 EFL-2.0 W3C Beerware Fair OFL-1.1 Vim ICU
LicenseRef-BSD LicenseRef-public-domain LicenseRef-Apache
""".split())


@lru_cache(maxsize=4096)
def _category_of_key(key: str) -> str:
    if key in PERMISSIVE:
        return "permissive"
    if key == "LicenseRef-unknown" or key.startswith("LicenseRef-unknown"):
        return "unknown"
    return "non_permissive"


def classify(spdx: str | None) -> str:
    """The Stack's category of an SPDX expression (None = no licence found)."""
    if spdx is None or not spdx.strip():
        return "no_license"
    from license_expression import AND, OR

    from tasks.governance.licenses import _licensing

    try:
        expr = _licensing().parse(spdx, strict=False)
    except Exception:  # noqa: BLE001 - an expression we cannot parse is not one we can vouch for
        return "unknown"
    if expr is None:
        return "no_license"

    def walk(node: Any) -> str:
        if isinstance(node, (AND, OR)):
            cats = [walk(a) for a in node.args]
            order = ("permissive", "unknown", "non_permissive") if isinstance(node, OR) else \
                ("non_permissive", "unknown", "permissive")
            return next(c for c in order if c in cats)  # OR: the best alternative; AND: the worst part
        key = getattr(node, "key", str(node))
        if key.endswith("-with-exceptions") or getattr(node, "license_symbol", None) is not None:
            key = getattr(getattr(node, "license_symbol", None), "key", key)
        return _category_of_key(key)

    return walk(expr)


@dataclass(frozen=True)
class Decision:
    keep: bool
    reason: str  # "licence_permissive", "licence_non_permissive:GPL-3.0-only", "licence_denied:...", ...


@dataclass(frozen=True)
class LicensePolicy:
    """Which categories are kept, plus explicit SPDX ids always allowed or always denied (ids in an
    expression are checked one by one; `deny` wins over `allow`) and the least detection confidence
    a kept repository needs (below it, the repository counts as `unknown`)."""

    allow: tuple[str, ...] = ("permissive",)
    allow_licenses: frozenset[str] = frozenset()
    deny_licenses: frozenset[str] = frozenset()
    min_confidence: float = 0.0

    def decide(self, spdx: str | None, confidence: float = 1.0) -> Decision:
        from tasks.governance.licenses import license_keys

        keys = license_keys(spdx)
        denied = sorted(keys & self.deny_licenses)
        if denied:
            return Decision(False, f"licence_denied:{','.join(denied)}")
        if keys and keys <= self.allow_licenses:
            return Decision(True, f"licence_allowed:{spdx}")
        category = classify(spdx)
        if category != "no_license" and confidence < self.min_confidence:
            category = "unknown"
        keep = category in self.allow
        return Decision(keep, f"licence_{category}" + ("" if keep or spdx is None else f":{spdx}"))


def license_policy_from_params(section: dict[str, Any] | None, name: str = "licenses") -> LicensePolicy:
    """Validate a `licenses` params section: {allow: [categories], allow_licenses: [SPDX ids],
    deny_licenses: [SPDX ids], min_confidence: 0..1}."""
    sec = checked_section(section, name, ("allow", "allow_licenses", "deny_licenses", "min_confidence"))
    p = nest(name, sec)
    allow = get(p, f"{name}.allow", default=["permissive"], kind=(list, tuple))
    for i, c in enumerate(allow):
        if c not in CATEGORIES:
            raise ParamError(f"{name}.allow[{i}]: unknown category {c!r}; expected some of {', '.join(CATEGORIES)}")
    ids = {}
    for key in ("allow_licenses", "deny_licenses"):
        values = get(p, f"{name}.{key}", default=[], kind=(list, tuple))
        for i, v in enumerate(values):
            if not isinstance(v, str) or not v.strip() or " " in v.strip():
                raise ParamError(f"{name}.{key}[{i}]: expected one SPDX licence id, got {v!r}")
        ids[key] = frozenset(v.strip() for v in values)
    both = sorted(ids["allow_licenses"] & ids["deny_licenses"])
    if both:
        raise ParamError(f"{name}.deny_licenses: {', '.join(both)} also in {name}.allow_licenses")
    conf = get(p, f"{name}.min_confidence", default=0.0, kind=(int, float))
    if not 0.0 <= conf <= 1.0:
        raise ParamError(f"{name}.min_confidence: must be within [0, 1], got {conf!r}")
    return LicensePolicy(allow=tuple(dict.fromkeys(allow)), allow_licenses=ids["allow_licenses"],
                         deny_licenses=ids["deny_licenses"], min_confidence=float(conf))
