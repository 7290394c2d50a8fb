"""The filter stage's settings (params.yaml section `filter`), validated once at start.

Defaults are the thresholds of DeepSeek-Coder §2.1 (StarCoder's rules). A missing key takes its
default; an unknown key or a bad value raises ParamError naming the dotted key, so a typo cannot
silently switch a rule back to its default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from expectations.baseline import POLICY_KEYS, GatePolicy, policy_from_params
from tasks.common.params import ParamError, checked_section

SECTION = "filter"


@dataclass(frozen=True)
class GateConfig:
    """Bands for the filter quality gate (`filter.gate`)."""

    pass_rate_bytes: tuple[float, float] = (0.1, 1.0)
    pass_rate_files: tuple[float, float] = (0.1, 1.0)
    language_share_default: tuple[float, float] = (0.0, 1.0)
    language_share: tuple[tuple[str, float, float], ...] = ()  # (lang, lo, hi), sorted by lang
    policy: GatePolicy = field(default_factory=GatePolicy)  # mode (enforce | warn) and drift from the accepted run

    def share_bounds(self) -> dict[str, list[float]]:
        """`{lang: [lo, hi]}` plus `default`, the shape expectations.suites.language_mix takes."""
        out = {lang: [lo, hi] for lang, lo, hi in self.language_share}
        out["default"] = list(self.language_share_default)
        return out


@dataclass(frozen=True)
class Config:
    """Thresholds of the rules, in characters (Unicode code points). Picklable, hashable."""

    max_avg_line_length: float = 100  # drop when the average line length is > this
    max_line_length: int = 1000  # drop when some line is longer than this
    min_alpha_fraction: float = 0.25  # drop when the share of alphabetic characters is < this
    xml_header_window: int = 100  # drop when '<?xml version=' lies within the first N characters
    html_min_visible_fraction: float = 0.2  # HTML kept only when visible text >= this share...
    html_min_visible_chars: int = 100  # ...and at least this many characters
    json_yaml_min_chars: int = 50  # JSON/YAML kept only with min <= characters <= max
    json_yaml_max_chars: int = 5000
    # Language names (as in tasks.crawl.languages) the language-specific rules apply to.
    xml_exempt_languages: tuple[str, ...] = ("XSLT",)
    html_languages: tuple[str, ...] = ("HTML",)
    json_yaml_languages: tuple[str, ...] = ("JSON", "YAML")
    # None: tasks.crawl.languages.SUPPORTED_LANGUAGES, looked up when first needed.
    supported_languages: tuple[str, ...] | None = None
    # Licence policy (tasks.governance.license_policy.LicensePolicy): repositories whose licence it
    # refuses are dropped whole, reason `license_policy`. None: every licence kept.
    licenses: Any = None
    gate: GateConfig = field(default_factory=GateConfig)

    def supported(self) -> frozenset[str]:
        if self.supported_languages is not None:
            return frozenset(self.supported_languages)
        found = default_supported_languages()
        if found is None:
            raise ParamError(f"{SECTION}: tasks.crawl.languages.SUPPORTED_LANGUAGES is not available; "
                             "pass Config.supported_languages")
        return found


def default_supported_languages() -> frozenset[str] | None:
    """The crawl stage's language list, imported lazily (None when that module is missing)."""
    try:
        from tasks.crawl.languages import SUPPORTED_LANGUAGES
    except ImportError:
        return None
    return frozenset(SUPPORTED_LANGUAGES)


def _number(section: Mapping[str, Any], key: str, default: float, *, integer: bool = False,
            lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Any:
    value = section.get(key, default)
    name = f"{SECTION}.{key}"
    _check_number(name, value, integer=integer, lo=lo, hi=hi, lo_open=lo_open)
    return value


def _check_number(name: str, value: Any, *, integer: bool = False, lo: float | None = None,
                  hi: float | None = None, lo_open: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ParamError(f"{name}: expected {'an integer' if integer else 'a number'}, got {value!r}")
    if value != value:  # NaN
        raise ParamError(f"{name}: must be a number, got {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ParamError(f"{name}: must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ParamError(f"{name}: must be <= {hi}, got {value!r}")


def _band(name: str, value: Any, default: tuple[float, float]) -> tuple[float, float]:
    """A [lo, hi] share band inside [0, 1], given as {min, max} or a two-item list."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"min", "max"})
        if unknown:
            raise ParamError(f"{name}.{unknown[0]}: unknown key (expected min, max)")
        lo, hi = value.get("min", default[0]), value.get("max", default[1])
        lo_name, hi_name = f"{name}.min", f"{name}.max"
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        lo, hi = value
        lo_name = hi_name = name
    else:
        raise ParamError(f"{name}: expected {{min, max}} or [lo, hi], got {value!r}")
    _check_number(lo_name, lo, lo=0, hi=1)
    _check_number(hi_name, hi, lo=0, hi=1)
    if lo > hi:
        raise ParamError(f"{name}: min must be <= max, got [{lo}, {hi}]")
    return (float(lo), float(hi))


def _names(name: str, value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ParamError(f"{name}: expected a list of language names, got {value!r}")
    return tuple(value)


def gate_from_params(gate: Any, supported: Iterable[str] | None) -> GateConfig:
    name = f"{SECTION}.gate"
    if gate is None:
        return GateConfig()
    if not isinstance(gate, Mapping):
        raise ParamError(f"{name}: expected a mapping, got {gate!r}")
    unknown = sorted(set(gate) - {"pass_rate_bytes", "pass_rate_files", "language_share", *POLICY_KEYS})
    if unknown:
        raise ParamError(f"{name}.{unknown[0]}: unknown key")
    policy = policy_from_params(SECTION, gate)
    base = GateConfig()
    shares = gate.get("language_share") or {}
    if not isinstance(shares, Mapping):
        raise ParamError(f"{name}.language_share: expected a mapping of language -> [lo, hi]")
    known = frozenset(supported) if supported is not None else None
    per_lang = []
    for lang in sorted(k for k in shares if k != "default"):
        if not isinstance(lang, str):
            raise ParamError(f"{name}.language_share.{lang}: language names must be strings")
        if known is not None and lang not in known:
            raise ParamError(f"{name}.language_share.{lang}: not a supported language")
        lo, hi = _band(f"{name}.language_share.{lang}", shares[lang], (0.0, 1.0))
        per_lang.append((lang, lo, hi))
    default_band = _band(f"{name}.language_share.default", shares.get("default"), base.language_share_default)
    if sum(lo for _, lo, _ in per_lang) > 1:
        raise ParamError(f"{name}.language_share: the lower bounds add up to more than 1")
    return GateConfig(
        pass_rate_bytes=_band(f"{name}.pass_rate_bytes", gate.get("pass_rate_bytes"), base.pass_rate_bytes),
        pass_rate_files=_band(f"{name}.pass_rate_files", gate.get("pass_rate_files"), base.pass_rate_files),
        language_share_default=default_band,
        language_share=tuple(per_lang),
        policy=policy,
    )


def _licenses(section: Any) -> Any:
    """The licence policy (The Stack's categories); absent section: keep every licence."""
    if section is None:
        return None
    from tasks.governance.license_policy import license_policy_from_params

    return license_policy_from_params(section, name=f"{SECTION}.licenses")


_KEYS = {
    "max_avg_line_length", "max_line_length", "min_alpha_fraction", "xml_header_window",
    "html_min_visible_fraction", "html_min_visible_chars", "json_yaml_min_chars", "json_yaml_max_chars",
    "xml_exempt_languages", "html_languages", "json_yaml_languages", "supported_languages", "licenses", "gate",
}


def config_from_params(section: Mapping[str, Any] | None,
                       supported_languages: Iterable[str] | None = None) -> Config:
    """Validate the `filter` section of params.yaml.

    `supported_languages` (else the section's optional `supported_languages` list, else the crawl
    stage's list when importable) also checks the gate's language names.
    """
    section = checked_section(dict(section) if isinstance(section, Mapping) else section, SECTION, _KEYS)
    d = Config()
    supported: tuple[str, ...] | None
    if supported_languages is not None:
        supported = tuple(sorted(supported_languages))
    elif section.get("supported_languages") is not None:
        supported = tuple(sorted(_names(f"{SECTION}.supported_languages", section["supported_languages"], ())))
    else:
        supported = None
    known = supported if supported is not None else default_supported_languages()
    cfg = Config(
        max_avg_line_length=_number(section, "max_avg_line_length", d.max_avg_line_length, lo=0, lo_open=True),
        max_line_length=_number(section, "max_line_length", d.max_line_length, integer=True, lo=0, lo_open=True),
        min_alpha_fraction=_number(section, "min_alpha_fraction", d.min_alpha_fraction, lo=0, hi=1),
        xml_header_window=_number(section, "xml_header_window", d.xml_header_window, integer=True, lo=0),
        html_min_visible_fraction=_number(section, "html_min_visible_fraction", d.html_min_visible_fraction,
                                          lo=0, hi=1),
        html_min_visible_chars=_number(section, "html_min_visible_chars", d.html_min_visible_chars,
                                       integer=True, lo=0),
        json_yaml_min_chars=_number(section, "json_yaml_min_chars", d.json_yaml_min_chars, integer=True, lo=0),
        json_yaml_max_chars=_number(section, "json_yaml_max_chars", d.json_yaml_max_chars, integer=True, lo=0),
        xml_exempt_languages=_names(f"{SECTION}.xml_exempt_languages", section.get("xml_exempt_languages"),
                                    d.xml_exempt_languages),
        html_languages=_names(f"{SECTION}.html_languages", section.get("html_languages"), d.html_languages),
        json_yaml_languages=_names(f"{SECTION}.json_yaml_languages", section.get("json_yaml_languages"),
                                   d.json_yaml_languages),
        supported_languages=supported,
        licenses=_licenses(section.get("licenses")),
        gate=gate_from_params(section.get("gate"), known),
    )
    if cfg.json_yaml_max_chars < cfg.json_yaml_min_chars:
        raise ParamError(f"{SECTION}.json_yaml_max_chars: must be >= json_yaml_min_chars "
                         f"({cfg.json_yaml_min_chars}), got {cfg.json_yaml_max_chars}")
    return cfg
