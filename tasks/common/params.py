"""Loading and validating params.yaml. Every knob lives there; a bad value fails at start with a
message naming the key (e.g. `filter.max_line_length: must be > 0, got -3`)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import yaml


class ParamError(ValueError):
    """A params.yaml value is missing or invalid; the message starts with the dotted key."""


def load_params(path: str | os.PathLike | None = None) -> dict[str, Any]:
    path = Path(path or os.environ.get("CODER_PIPELINE_PARAMS", "params.yaml"))
    if not path.exists():
        raise ParamError(f"{path}: params file not found")
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ParamError(f"{path}: top level must be a mapping of stage sections")
    return data


def named_yaml(directory: Path, name_or_path: str, what: str) -> Path:
    """`<directory>/<name>.yaml` (a built-in model config, profile, ...) or else a YAML file path."""
    builtin = directory / f"{name_or_path}.yaml"
    path = builtin if builtin.is_file() else Path(name_or_path)
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise FileNotFoundError(f"{what} {name_or_path!r} not found (built-in: {available})")
    return path


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    value = params.get(name)
    if not isinstance(value, dict):
        raise ParamError(f"{name}: section missing or not a mapping in params.yaml")
    return value


def get(params: dict[str, Any], dotted: str, *, default: Any = ..., kind: type | tuple[type, ...] | None = None) -> Any:
    """Value at a dotted key, with a type check; `default` makes it optional."""
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is not ...:
                return default
            raise ParamError(f"{dotted}: required key missing")
        node = node[part]
    if kind is not None and not isinstance(node, kind) or (kind in (int, float, (int, float)) and isinstance(node, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ParamError(f"{dotted}: expected {names}, got {node!r}")
    return node


def number(params: dict[str, Any], dotted: str, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, integer: bool = False, default: Any = ...) -> float | int:
    """A numeric param within [lo, hi] (or (lo, hi] with lo_open)."""
    value = get(params, dotted, default=default, kind=int if integer else (int, float))
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ParamError(f"{dotted}: must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ParamError(f"{dotted}: must be <= {hi}, got {value!r}")
    return value


def choice(params: dict[str, Any], dotted: str, allowed: Iterable[str], *, default: Any = ...) -> str:
    value = get(params, dotted, default=default, kind=str)
    allowed = list(allowed)
    if value not in allowed:
        raise ParamError(f"{dotted}: unknown value {value!r}; expected one of {', '.join(allowed)}")
    return value


def checked_section(section: Any, name: str, known: Iterable[str], *, allow_none: bool = True) -> dict[str, Any]:
    """A stage's params section as a dict, with every key known: a typo fails at start naming the key."""
    if section is None and allow_none:
        return {}
    if not isinstance(section, dict):
        raise ParamError(f"{name}: section must be a mapping, got {section!r}")
    known = set(known)
    unknown = sorted(str(k) for k in section if k not in known)
    if unknown:
        raise ParamError(f"{name}.{unknown[0]}: unknown key; expected one of {', '.join(sorted(known))}")
    return section
