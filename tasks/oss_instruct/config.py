"""The `oss_instruct` section of params.yaml as frozen dataclasses, validated with key-named errors.

The teacher endpoint is the one setting that may also come from the environment
(`CODER_PIPELINE_TEACHER_BASE_URL`, `CODER_PIPELINE_TEACHER_API_KEY`): an endpoint differs per
machine and a key is a secret, so neither has to be written into params.yaml. With no endpoint at
all the stage is off and writes an empty dataset.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tasks.common.params import ParamError, checked_section, get, number
from tasks.common.retry import Backoff

P = "oss_instruct"
ENV_BASE_URL = "CODER_PIPELINE_TEACHER_BASE_URL"
ENV_API_KEY = "CODER_PIPELINE_TEACHER_API_KEY"

# The paper's mix (Magicoder §2.1): 40K Python seeds and 5K for each of eight other languages. Swift
# is not one of the corpus languages (DeepSeek-Coder's list in tasks/crawl/languages.py), so a quota
# for it is refused like any unknown name.
PAPER_QUOTAS = {"Python": 40000, "C++": 5000, "Java": 5000, "TypeScript": 5000, "Shell": 5000, "C#": 5000,
                "Rust": 5000, "PHP": 5000}


@dataclass(frozen=True)
class TeacherConfig:
    base_url: str | None = None  # OpenAI-compatible root, e.g. http://127.0.0.1:8000/v1
    model: str = "gpt-3.5-turbo-1106"
    secret_block: str | None = None  # Prefect Secret block holding the API key
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 2048
    timeout_s: float = 120.0  # connect and per-read timeout of one request
    retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_request_s: float = 900.0  # bound on one seed's requests, retries and waits included
    concurrency: int = 4  # requests in flight
    requests_per_minute: float | None = None  # None = no limit besides concurrency
    price_prompt_per_1m: float = 1.0  # USD per 1M prompt tokens (gpt-3.5-turbo-1106)
    price_completion_per_1m: float = 2.0

    @property
    def backoff(self) -> Backoff:
        return Backoff(self.retries, self.backoff_base_s, self.backoff_max_s, self.max_request_s)

    def sampling(self) -> dict[str, Any]:
        """What goes into the request besides model and messages (and into the cache key)."""
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class ValidateConfig:
    max_error_share: float = 0.1  # tree-sitter unparsed byte share allowed in a solution's code
    request_tests: tuple[str, ...] = ("Python",)  # languages whose prompt asks for a [Tests] section
    run_tests: bool = True  # run solution + tests in the evaluation sandbox; failures are dropped
    test_timeout_s: float = 10.0
    test_memory_mb: int = 1024
    test_workers: int = 2


@dataclass(frozen=True)
class GateConfig:
    min_kept_share: float = 0.2  # kept items / seeds
    min_parse_valid_share: float = 0.5  # answers whose sections and code parse / answers received


@dataclass(frozen=True)
class Config:
    seed: int = 1234
    quotas: tuple[tuple[str, int], ...] = (("Python", 16),)  # (corpus language name, seeds), sorted
    min_lines: int = 1
    max_lines: int = 15
    cache_dir: str = ".cache/oss_instruct"
    dedup: bool = True  # drop exact duplicates of a normalised instruction
    decontaminate: bool = True  # drop items matching the benchmarks (quality.decontam's index)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    gate: GateConfig = field(default_factory=GateConfig)

    @property
    def enabled(self) -> bool:
        return bool(self.teacher.base_url)


def _sub(section: dict, name: str, known: set[str]) -> dict:
    return checked_section(section.get(name), f"{P}.{name}", known)


def _opt_str(sub: dict, key: str, default: str | None) -> str | None:
    value = sub.get(key, default)
    if value is not None and not (isinstance(value, str) and value.strip()):
        raise ParamError(f"{key}: expected a non-empty string or null, got {value!r}")
    return value


def _quotas(value: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict) or not value:
        raise ParamError(f"{P}.quotas: expected a mapping of language -> number of seeds, got {value!r}")
    from tasks.crawl.languages import SUPPORTED_LANGUAGES

    out = []
    for lang, n in value.items():
        if not isinstance(lang, str) or lang not in SUPPORTED_LANGUAGES:
            raise ParamError(f"{P}.quotas.{lang}: not a supported language name (tasks/crawl/languages.py)")
        out.append((lang, _count(value, lang)))
    return tuple(sorted(out))


def _count(mapping: dict, lang: str) -> int:
    n = mapping[lang]
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ParamError(f"{P}.quotas.{lang}: expected a count >= 0, got {n!r}")
    return n


def _teacher(section: dict) -> TeacherConfig:
    d, p = TeacherConfig(), f"{P}.teacher"
    sub = _sub(section, "teacher", set(TeacherConfig.__dataclass_fields__))

    def num(key: str, **kw: Any) -> Any:
        return number(sub, key, default=getattr(d, key), **kw)

    try:
        base_url = os.environ.get(ENV_BASE_URL) or _opt_str(sub, "base_url", d.base_url)
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ParamError(f"base_url: expected an http(s) URL, got {base_url!r}")
        rpm = sub.get("requests_per_minute")
        if rpm is not None:
            rpm = float(number(sub, "requests_per_minute", lo=0, lo_open=True))
        return TeacherConfig(
            base_url=base_url.rstrip("/") if base_url else None,
            model=get(sub, "model", default=d.model, kind=str),
            secret_block=_opt_str(sub, "secret_block", d.secret_block),
            temperature=float(num("temperature", lo=0, hi=2)),
            top_p=float(num("top_p", lo=0, hi=1, lo_open=True)),
            max_tokens=int(num("max_tokens", lo=1, integer=True)),
            timeout_s=float(num("timeout_s", lo=0, lo_open=True)),
            retries=int(num("retries", lo=0, integer=True)),
            backoff_base_s=float(num("backoff_base_s", lo=0)),
            backoff_max_s=float(num("backoff_max_s", lo=0)),
            max_request_s=float(num("max_request_s", lo=0, lo_open=True)),
            concurrency=int(num("concurrency", lo=1, integer=True)),
            requests_per_minute=rpm,
            price_prompt_per_1m=float(num("price_prompt_per_1m", lo=0)),
            price_completion_per_1m=float(num("price_completion_per_1m", lo=0)),
        )
    except ParamError as exc:
        raise ParamError(f"{p}.{exc}") from None


def _validate(section: dict) -> ValidateConfig:
    d, p = ValidateConfig(), f"{P}.validate"
    sub = _sub(section, "validate", set(ValidateConfig.__dataclass_fields__))
    try:
        langs = sub.get("request_tests", list(d.request_tests))
        if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs):
            raise ParamError(f"request_tests: expected a list of language names, got {langs!r}")
        return ValidateConfig(
            max_error_share=float(number(sub, "max_error_share", lo=0, hi=1, default=d.max_error_share)),
            request_tests=tuple(langs),
            run_tests=get(sub, "run_tests", default=d.run_tests, kind=bool),
            test_timeout_s=float(number(sub, "test_timeout_s", lo=0, lo_open=True, default=d.test_timeout_s)),
            test_memory_mb=int(number(sub, "test_memory_mb", lo=64, integer=True, default=d.test_memory_mb)),
            test_workers=int(number(sub, "test_workers", lo=1, integer=True, default=d.test_workers)),
        )
    except ParamError as exc:
        raise ParamError(f"{p}.{exc}") from None


def _gate(section: dict) -> GateConfig:
    d = GateConfig()
    sub = _sub(section, "gate", set(GateConfig.__dataclass_fields__))
    try:
        return GateConfig(
            min_kept_share=float(number(sub, "min_kept_share", lo=0, hi=1, default=d.min_kept_share)),
            min_parse_valid_share=float(number(sub, "min_parse_valid_share", lo=0, hi=1,
                                               default=d.min_parse_valid_share)),
        )
    except ParamError as exc:
        raise ParamError(f"{P}.gate.{exc}") from None


_KEYS = {"seed", "quotas", "min_lines", "max_lines", "cache_dir", "dedup", "decontaminate", "teacher", "validate", "gate"}


def config_from_params(section: Any) -> Config:
    """Validate the `oss_instruct` params section; every bad value raises ParamError naming its key."""
    section = checked_section(section, P, _KEYS)
    d = Config()
    try:
        seed = int(number(section, "seed", integer=True, default=d.seed))
        min_lines = int(number(section, "min_lines", lo=1, integer=True, default=d.min_lines))
        max_lines = int(number(section, "max_lines", lo=1, integer=True, default=d.max_lines))
        dedup = get(section, "dedup", default=d.dedup, kind=bool)
        decontaminate = get(section, "decontaminate", default=d.decontaminate, kind=bool)
    except ParamError as exc:
        raise ParamError(f"{P}.{exc}") from None
    if max_lines < min_lines:
        raise ParamError(f"{P}.max_lines: must be >= {P}.min_lines ({min_lines}), got {max_lines}")
    cache_dir = section.get("cache_dir", d.cache_dir)
    if not isinstance(cache_dir, str) or not cache_dir:
        raise ParamError(f"{P}.cache_dir: expected a directory path, got {cache_dir!r}")
    return Config(seed=seed, quotas=_quotas(section["quotas"]) if "quotas" in section else d.quotas,
                  min_lines=min_lines, max_lines=max_lines, cache_dir=cache_dir, dedup=dedup,
                  decontaminate=decontaminate, teacher=_teacher(section), validate=_validate(section),
                  gate=_gate(section))
