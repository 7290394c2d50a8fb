"""`pack` section of params.yaml, validated up front (a bad value raises ParamError naming the key).

Mixture presets (token shares; they need not sum to 1, they are normalised over the sources that
have data):
  DeepSeek-Coder (arXiv 2401.14196 §2):     {code: 0.87, code_text: 0.10, text: 0.03}
  "To Code, or Not To Code" (2408.10914):  {code: 0.25, code_text: 0.0, text: 0.75}  (general LLM:
      ~25% code in pre-training; its cool-down up-weights high-quality code and text)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.common.params import ParamError, checked_section, get, number

SOURCES: tuple[str, ...] = ("code", "code_text", "text")
DEFAULT_MIXTURE = {"code": 0.87, "code_text": 0.10, "text": 0.03}
DEFAULT_COOLDOWN_MIXTURE = {"code": 0.60, "code_text": 0.30, "text": 0.10}
DEFAULT_CODE_TEXT_LANGUAGES = ("Markdown", "RMarkdown", "reStructuredText")


@dataclass(frozen=True)
class TextSource:
    """A natural-language corpus the user adds: JSONL (optionally .gz) or Parquet, one doc per row."""

    path: str
    field: str = "text"
    name: str = ""  # used in document ids; defaults to the file name


@dataclass(frozen=True)
class Cooldown:
    """The cool-down mixture, packed from train-split documents into data/packed/cooldown/.

    `code` documents are restricted to high-quality ones: main language in `languages` or repo in
    `repos` (a repo id, or its name without `@version`); both empty = all code."""

    mixture: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_COOLDOWN_MIXTURE))
    languages: tuple[str, ...] = ()
    repos: tuple[str, ...] = ()
    fraction: float = 0.1  # cool-down tokens as a share of the main train split's tokens
    enabled: bool = True


@dataclass(frozen=True)
class TextScreen:
    """What text sources pass through before packing (tasks/pack/text_screen.py): exact dedup across all of
    them (the code's normalisation) and decontamination against the quality stage's benchmark index."""

    dedup: bool = True
    decontaminate: bool = True


@dataclass(frozen=True)
class Config:
    seq_len: int = 4096                 # paper: 4K, then 16K for long context
    fim_rate: float = 0.5               # share of code documents turned into FIM (paper: 0.5)
    fim_spm_rate: float = 0.0           # share of FIM documents in SPM instead of PSM
    seed: int = 1234
    val_ratio: float = 0.01             # share of repositories held out for validation
    add_bos: bool = True                # every document starts with BOS (as the released tokenizer's prompts do)
    mixture: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIXTURE))
    text_sources: tuple[TextSource, ...] = ()
    text_screen: TextScreen = field(default_factory=TextScreen)
    code_text_languages: tuple[str, ...] = DEFAULT_CODE_TEXT_LANGUAGES
    cooldown: Cooldown = field(default_factory=Cooldown)
    workers: int = 1
    batch_size: int = 128               # documents per encode_batch call
    shard_tokens: int = 1 << 25         # tokens per output .bin shard (whole sequences; the write buffer)
    append: bool = False                # nightly: keep train/val shards, add the new documents as new shards


def _mixture(p: dict[str, Any], key: str, default: dict[str, float]) -> dict[str, float]:
    raw = get(p, key, default=default, kind=dict)
    for name in raw:
        if name not in SOURCES:
            raise ParamError(f"{key}.{name}: unknown source; expected one of {', '.join(SOURCES)}")
    local: dict[str, Any] = {"mixture": raw}
    for part in reversed(key.split(".")[:-1]):  # same dotted key, so errors name the real param
        local = {part: local}
    out = {name: float(number(local, f"{key}.{name}", lo=0, default=0.0)) for name in SOURCES}
    if sum(out.values()) <= 0:
        raise ParamError(f"{key}: weights must not all be 0, got {raw!r}")
    return out


def _str_list(p: dict[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = get(p, key, default=list(default), kind=list)
    for i, v in enumerate(raw):
        if not isinstance(v, str) or not v:
            raise ParamError(f"{key}[{i}]: expected a non-empty string, got {v!r}")
    return tuple(raw)


def _text_sources(p: dict[str, Any]) -> tuple[TextSource, ...]:
    raw = get(p, "pack.text_sources", default=[], kind=list)
    out, names = [], set()
    for i, item in enumerate(raw):
        key = f"pack.text_sources[{i}]"
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict):
            raise ParamError(f"{key}: expected a path or a mapping with path/field/name, got {item!r}")
        unknown = set(item) - {"path", "field", "name"}
        if unknown:
            raise ParamError(f"{key}.{sorted(unknown)[0]}: unknown key; expected path, field, name")
        path = item.get("path")
        if not isinstance(path, str) or not path:
            raise ParamError(f"{key}.path: required, a JSONL or Parquet file")
        if not (path.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet"))):
            raise ParamError(f"{key}.path: unsupported format {path!r}; expected .jsonl[.gz] or .parquet")
        if not Path(path).is_file():
            raise ParamError(f"{key}.path: file not found: {path}")
        fld = item.get("field", "text")
        if not isinstance(fld, str) or not fld:
            raise ParamError(f"{key}.field: expected a column name, got {fld!r}")
        name = item.get("name") or Path(path).name
        if not isinstance(name, str):
            raise ParamError(f"{key}.name: expected a string, got {name!r}")
        if name in names:
            raise ParamError(f"{key}.name: duplicate source name {name!r}")
        names.add(name)
        out.append(TextSource(path=path, field=fld, name=name))
    return tuple(out)


def config_from_params(section: dict[str, Any]) -> Config:
    section = checked_section(section, "pack", Config.__dataclass_fields__, allow_none=False)
    p = {"pack": section}
    d = Config()
    cd = get(p, "pack.cooldown", default={}, kind=dict)
    for key in cd:
        if key not in Cooldown.__dataclass_fields__:
            raise ParamError(f"pack.cooldown.{key}: unknown key; expected one of "
                             f"{', '.join(sorted(Cooldown.__dataclass_fields__))}")
    dc = Cooldown()
    cooldown = Cooldown(
        mixture=_mixture(p, "pack.cooldown.mixture", dc.mixture),
        languages=_str_list(p, "pack.cooldown.languages", dc.languages),
        repos=_str_list(p, "pack.cooldown.repos", dc.repos),
        fraction=float(number(p, "pack.cooldown.fraction", lo=0, lo_open=True, hi=100, default=dc.fraction)),
        enabled=get(p, "pack.cooldown.enabled", default=dc.enabled, kind=bool),
    )
    ts = get(p, "pack.text_screen", default={}, kind=dict)
    for key in ts:
        if key not in TextScreen.__dataclass_fields__:
            raise ParamError(f"pack.text_screen.{key}: unknown key; expected dedup, decontaminate")
    text_screen = TextScreen(dedup=get(p, "pack.text_screen.dedup", default=True, kind=bool),
                             decontaminate=get(p, "pack.text_screen.decontaminate", default=True, kind=bool))
    return Config(
        seq_len=int(number(p, "pack.seq_len", lo=2, hi=1 << 24, integer=True, default=d.seq_len)),
        fim_rate=float(number(p, "pack.fim_rate", lo=0, hi=1, default=d.fim_rate)),
        fim_spm_rate=float(number(p, "pack.fim_spm_rate", lo=0, hi=1, default=d.fim_spm_rate)),
        seed=int(number(p, "pack.seed", integer=True, default=d.seed)),
        val_ratio=float(number(p, "pack.val_ratio", lo=0, hi=0.5, default=d.val_ratio)),
        add_bos=get(p, "pack.add_bos", default=d.add_bos, kind=bool),
        mixture=_mixture(p, "pack.mixture", d.mixture),
        text_sources=_text_sources(p),
        text_screen=text_screen,
        code_text_languages=_str_list(p, "pack.code_text_languages", d.code_text_languages),
        cooldown=cooldown,
        workers=int(number(p, "pack.workers", lo=1, hi=1024, integer=True, default=d.workers)),
        batch_size=int(number(p, "pack.batch_size", lo=1, integer=True, default=d.batch_size)),
        shard_tokens=int(number(p, "pack.shard_tokens", lo=1, integer=True, default=d.shard_tokens)),
        append=get(p, "pack.append", default=d.append, kind=bool),
    )
