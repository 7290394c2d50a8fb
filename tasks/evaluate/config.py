"""The `evaluate` section of params.yaml, validated once at start (errors name the dotted key)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.common.params import ParamError, choice, get, number
from tasks.evaluate.multilingual import FIM_LANGUAGES, HUMANEVAL_LANGUAGES

SECTION = "evaluate"
BENCHMARKS = ("humaneval", "mbpp", "humaneval_fim", "humaneval_multilingual", "fim_multilingual", "leetcode",
              "val_ppl", "val_next_line", "val_fim")
# benchmarks whose `limit` counts per language (problems, or FIM lines)
PER_LANGUAGE = ("humaneval_multilingual", "fim_multilingual")
DEVICES = ("cpu", "cuda", "auto")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class FimConfig:
    mode: str = "exact"              # exact: strip-equal to the masked line; exec: also run the tests
    stop_at_newline: bool = False    # cut the infill after its first line (single-line variant)


@dataclass(frozen=True)
class ValidationConfig:
    packed_dir: str | None = "data/packed/val"  # packed held-out split for perplexity
    heldout_dir: str | None = None   # Parquet shards with a `text` column: held-out documents
    max_sequences: int = 32          # packed sequences scored for perplexity
    max_docs: int = 50               # held-out documents for next-line and FIM
    max_context_chars: int = 2000    # prefix (and suffix) characters kept around the target line
    min_line_chars: int = 8          # a target line must have this many non-blank characters


@dataclass(frozen=True)
class MultilingualConfig:
    """The paper's other languages (tasks/evaluate/multilingual.py) and the LeetCode Contest file."""

    languages: tuple[str, ...] = HUMANEVAL_LANGUAGES    # HumanEval; Python's column is `humaneval`
    fim_languages: tuple[str, ...] = FIM_LANGUAGES
    timeout_s: float = 20.0          # per program, build + run (DeepSeek: 10 s each)
    memory_mb: int = 2048            # RLIMIT_DATA of the toolchain's processes
    leetcode_timeout_s: float = 10.0  # per problem, ~100 asserts (DeepSeek's 10 s)
    data_dir: str = "assets/benchmarks/multilingual"


@dataclass(frozen=True)
class SandboxConfig:
    isolate: bool = True             # namespaces + unprivileged uid when running as root
    audit_guard: bool = True         # audit-hook guard in every run
    nproc: int = 32
    nofile: int = 64
    fsize_mb: int = 16
    exec_unisolated: bool = False    # run other languages' programs without namespaces + uid drop (rlimits only)


@dataclass(frozen=True)
class Config:
    benchmarks: tuple[str, ...] = BENCHMARKS
    limit: dict[str, int | None] = field(default_factory=dict)  # per benchmark; missing/None = all
    max_new_tokens: int = 256
    max_new_tokens_by_benchmark: dict[str, int] = field(default_factory=dict)  # e.g. leetcode: 1024
    batch_size: int = 8
    temperature: float = 0.0
    top_p: float = 0.95
    n_samples: int = 1
    k: tuple[int, ...] = (1,)
    seed: int = 1234
    timeout_s: float = 5.0
    memory_mb: int = 1024
    workers: int = 2
    device: str = "cpu"
    dtype: str = "auto"
    max_seq_len: int | None = None   # prompt + generation tokens; None = model's max_position_embeddings
    assets_dir: str = "assets/benchmarks"
    fim: FimConfig = field(default_factory=FimConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    multilingual: MultilingualConfig = field(default_factory=MultilingualConfig)

    def limit_for(self, benchmark: str) -> int | None:
        return self.limit.get(benchmark)

    def tokens_for(self, benchmark: str) -> int:
        """Generation budget of one benchmark (the paper: 500 for HumanEval and MBPP, 1024 for LeetCode)."""
        return self.max_new_tokens_by_benchmark.get(benchmark, self.max_new_tokens)


def _bool(section: dict[str, Any], dotted: str, default: bool) -> bool:
    return get(section, dotted, default=default, kind=bool)


def _optional_str(section: dict[str, Any], dotted: str, default: str | None) -> str | None:
    value = get(section, dotted, default=default)
    if value is not None and not isinstance(value, str):
        raise ParamError(f"{dotted}: expected a path string or null, got {value!r}")
    return value


def _limits(section: dict[str, Any], benchmarks: tuple[str, ...]) -> dict[str, int | None]:
    raw = section.get("limit")
    key = f"{SECTION}.limit"
    if raw is None:
        return {}
    if isinstance(raw, bool):
        raise ParamError(f"{key}: expected an int, a mapping or null, got {raw!r}")
    if isinstance(raw, int):
        if raw <= 0:
            raise ParamError(f"{key}: must be > 0, got {raw}")
        return {b: raw for b in benchmarks}
    if not isinstance(raw, dict):
        raise ParamError(f"{key}: expected an int, a mapping or null, got {raw!r}")
    out: dict[str, int | None] = {}
    for name, value in raw.items():
        if name not in BENCHMARKS:
            raise ParamError(f"{key}.{name}: unknown benchmark; expected one of {', '.join(BENCHMARKS)}")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise ParamError(f"{key}.{name}: must be a positive int or null, got {value!r}")
        out[name] = value
    return out


def config_from_params(section: dict[str, Any]) -> Config:
    """Build and validate the Config from the `evaluate` section of params.yaml."""
    if not isinstance(section, dict):
        raise ParamError(f"{SECTION}: section must be a mapping")
    known = set(Config.__dataclass_fields__)
    for key in section:
        if key not in known:
            raise ParamError(f"{SECTION}.{key}: unknown key")
    s = {SECTION: section}

    defaults = Config()

    def num(key: str, **kw: Any) -> Any:
        return number(s, f"{SECTION}.{key}", default=getattr(defaults, key), **kw)

    benchmarks = get(s, f"{SECTION}.benchmarks", default=list(BENCHMARKS), kind=list)
    for b in benchmarks:
        if b not in BENCHMARKS:
            raise ParamError(f"{SECTION}.benchmarks: unknown benchmark {b!r}; expected any of {', '.join(BENCHMARKS)}")
    if len(set(benchmarks)) != len(benchmarks):
        raise ParamError(f"{SECTION}.benchmarks: duplicate entries in {benchmarks!r}")
    benchmarks_t = tuple(benchmarks)

    n_samples = num("n_samples", lo=1, integer=True)
    temperature = float(num("temperature", lo=0))
    if temperature == 0 and n_samples > 1:
        raise ParamError(f"{SECTION}.n_samples: greedy decoding (temperature 0) gives {n_samples} identical "
                         "samples; use n_samples 1 or temperature > 0")
    k = get(s, f"{SECTION}.k", default=[1], kind=list)
    if not k or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in k):
        raise ParamError(f"{SECTION}.k: expected a non-empty list of positive ints, got {k!r}")
    if max(k) > n_samples:
        raise ParamError(f"{SECTION}.k: pass@{max(k)} needs n_samples >= {max(k)}, got n_samples {n_samples}")
    max_seq_len = get(s, f"{SECTION}.max_seq_len", default=None)
    if max_seq_len is not None and (isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 16):
        raise ParamError(f"{SECTION}.max_seq_len: must be an int >= 16 or null, got {max_seq_len!r}")

    fim_s = get(s, f"{SECTION}.fim", default={}, kind=dict)
    for key in fim_s:
        if key not in FimConfig.__dataclass_fields__:
            raise ParamError(f"{SECTION}.fim.{key}: unknown key")
    fim = FimConfig(mode=choice(s, f"{SECTION}.fim.mode", ("exact", "exec"), default="exact"),
                    stop_at_newline=_bool(s, f"{SECTION}.fim.stop_at_newline", False))

    val_s = get(s, f"{SECTION}.validation", default={}, kind=dict)
    for key in val_s:
        if key not in ValidationConfig.__dataclass_fields__:
            raise ParamError(f"{SECTION}.validation.{key}: unknown key")
    vd = ValidationConfig()
    validation = ValidationConfig(
        packed_dir=_optional_str(s, f"{SECTION}.validation.packed_dir", vd.packed_dir),
        heldout_dir=_optional_str(s, f"{SECTION}.validation.heldout_dir", vd.heldout_dir),
        max_sequences=number(s, f"{SECTION}.validation.max_sequences", lo=1, integer=True, default=vd.max_sequences),
        max_docs=number(s, f"{SECTION}.validation.max_docs", lo=1, integer=True, default=vd.max_docs),
        max_context_chars=number(s, f"{SECTION}.validation.max_context_chars", lo=16, integer=True,
                                 default=vd.max_context_chars),
        min_line_chars=number(s, f"{SECTION}.validation.min_line_chars", lo=1, integer=True, default=vd.min_line_chars),
    )

    by_bench = get(s, f"{SECTION}.max_new_tokens_by_benchmark", default={}, kind=dict)
    for name, value in by_bench.items():
        key = f"{SECTION}.max_new_tokens_by_benchmark.{name}"
        if name not in BENCHMARKS:
            raise ParamError(f"{key}: unknown benchmark; expected one of {', '.join(BENCHMARKS)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ParamError(f"{key}: must be a positive int, got {value!r}")

    sb_s = get(s, f"{SECTION}.sandbox", default={}, kind=dict)
    for key in sb_s:
        if key not in SandboxConfig.__dataclass_fields__:
            raise ParamError(f"{SECTION}.sandbox.{key}: unknown key")
    sd = SandboxConfig()
    sandbox = SandboxConfig(
        isolate=_bool(s, f"{SECTION}.sandbox.isolate", sd.isolate),
        audit_guard=_bool(s, f"{SECTION}.sandbox.audit_guard", sd.audit_guard),
        nproc=number(s, f"{SECTION}.sandbox.nproc", lo=1, integer=True, default=sd.nproc),
        nofile=number(s, f"{SECTION}.sandbox.nofile", lo=16, integer=True, default=sd.nofile),
        fsize_mb=number(s, f"{SECTION}.sandbox.fsize_mb", lo=1, integer=True, default=sd.fsize_mb),
        exec_unisolated=_bool(s, f"{SECTION}.sandbox.exec_unisolated", sd.exec_unisolated),
    )

    return Config(
        benchmarks=benchmarks_t,
        limit=_limits(section, benchmarks_t),
        max_new_tokens=num("max_new_tokens", lo=1, integer=True),
        max_new_tokens_by_benchmark=dict(by_bench),
        batch_size=num("batch_size", lo=1, integer=True),
        temperature=temperature,
        top_p=float(num("top_p", lo=0, hi=1, lo_open=True)),
        n_samples=n_samples,
        k=tuple(sorted(set(k))),
        seed=num("seed", lo=0, integer=True),
        timeout_s=float(num("timeout_s", lo=0, lo_open=True)),
        memory_mb=num("memory_mb", lo=64, integer=True),
        workers=num("workers", lo=1, integer=True),
        device=choice(s, f"{SECTION}.device", DEVICES, default="cpu"),
        dtype=choice(s, f"{SECTION}.dtype", DTYPES, default="auto"),
        max_seq_len=max_seq_len,
        assets_dir=get(s, f"{SECTION}.assets_dir", default=Config.assets_dir, kind=str),
        fim=fim,
        validation=validation,
        sandbox=sandbox,
        multilingual=_multilingual(s),
    )


def _languages(s: dict[str, Any], key: str, allowed: tuple[str, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    value = get(s, key, default=list(default), kind=list)
    for lang in value:
        if lang not in allowed:
            raise ParamError(f"{key}: unknown language {lang!r}; expected any of {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise ParamError(f"{key}: duplicate entries in {value!r}")
    return tuple(value)


def _multilingual(s: dict[str, Any]) -> MultilingualConfig:
    key = f"{SECTION}.multilingual"
    ml_s = get(s, key, default={}, kind=dict)
    for name in ml_s:
        if name not in MultilingualConfig.__dataclass_fields__:
            raise ParamError(f"{key}.{name}: unknown key")
    d = MultilingualConfig()
    return MultilingualConfig(
        languages=_languages(s, f"{key}.languages", HUMANEVAL_LANGUAGES, d.languages),
        fim_languages=_languages(s, f"{key}.fim_languages", FIM_LANGUAGES, d.fim_languages),
        timeout_s=float(number(s, f"{key}.timeout_s", lo=0, lo_open=True, default=d.timeout_s)),
        memory_mb=number(s, f"{key}.memory_mb", lo=64, integer=True, default=d.memory_mb),
        leetcode_timeout_s=float(number(s, f"{key}.leetcode_timeout_s", lo=0, lo_open=True,
                                        default=d.leetcode_timeout_s)),
        data_dir=get(s, f"{key}.data_dir", default=d.data_dir, kind=str),
    )
