"""Gate bands from an accepted run, written into params.yaml's `<stage>.gate` subsections.

A band is the observed value +- a margin (absolute, in share units), rounded outward to 3 decimals and
clipped to [0, 1], so the run it was measured on always passes. Filter languages get one band each;
languages absent from the accepted run fall to the `default` band, [0, margin]. Only shares are
calibrated: `quality.gate.max_contaminated_files` is a count (contaminated files are removed anyway) and
stays as the user set it.

params.yaml is edited in place, not re-dumped: only the `gate:` block of each calibrated stage is
rewritten (with ruamel.yaml, keeping its comments and key order); every other line stays byte for byte,
and the result is checked to parse to exactly the old params with the new gate values.
"""
from __future__ import annotations

import copy
import io
import math
import re
from typing import Any, Mapping

import yaml

ROUND = 1000  # bands are written with 3 decimals, rounded outward
COMMENT_COLUMN = 30  # where params.yaml's comments start
_OBSERVED = re.compile(r"\s*;?\s*observed -?[0-9.]+(e-?[0-9]+)?\s*$")


class RewriteError(ValueError):
    """params.yaml could not be edited safely (its layout is not one this editor knows)."""


def band(value: float, margin: float) -> list[float]:
    """[value - margin, value + margin], rounded outward to 3 decimals, clipped to [0, 1]."""
    lo = math.floor(round(max(0.0, value - margin) * ROUND, 6)) / ROUND
    hi = math.ceil(round(min(1.0, value + margin) * ROUND, 6)) / ROUND
    return [max(0.0, lo), min(1.0, hi)]


def note(value: float) -> str:
    return f"observed {value:g}"


def stage_bands(stage: str, observed: Mapping[str, Any], margin: float,
                supported: frozenset[str] | None = None) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """(gate keys -> new values, dotted key -> "observed x" comment, skipped languages) for one stage.

    `observed`: `expectations.baseline.observe(stage, metrics)`. `supported`: the filter's language list;
    a kept language outside it gets no band (the language-mix gate fails on it whatever its band)."""
    if stage == "filter":
        shares = observed["language_share"]
        skipped = sorted(lang for lang in shares if supported is not None and lang not in supported)
        langs = sorted((lang for lang in shares if lang not in skipped), key=lambda lang: (-shares[lang], lang))
        updates: dict[str, Any] = {
            "pass_rate_bytes": dict(zip(("min", "max"), band(observed["pass_rate_bytes"], margin))),
            "pass_rate_files": dict(zip(("min", "max"), band(observed["pass_rate_files"], margin))),
            "language_share": {**{lang: band(shares[lang], margin) for lang in langs},
                               "default": [0.0, band(0.0, margin)[1]]},
        }
        comments = {"pass_rate_bytes": note(observed["pass_rate_bytes"]),
                    "pass_rate_files": note(observed["pass_rate_files"]),
                    **{f"language_share.{lang}": note(shares[lang]) for lang in langs},
                    "language_share.default": "languages absent from the accepted run"}
        return updates, comments, skipped
    if stage == "order":
        rate = observed["resolution_rate"]
        return {"min_resolution_rate": band(rate, margin)[0]}, {"min_resolution_rate": note(rate)}, []
    if stage == "dedup":
        share = observed["dropped_share"]
        return {"dropped_share": band(share, margin)}, {"dropped_share": note(share)}, []
    if stage == "quality":
        share = observed["removed_file_share"]
        return {"max_removed_file_share": band(share, margin)[1]}, {"max_removed_file_share": note(share)}, []
    raise KeyError(f"{stage}: not a gated stage")


# ---------------------------------------------------------------- params.yaml editing
def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML()
    y.width = 4096
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    """A line holding YAML content (not blank, not only a comment)."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _node(value: Any) -> Any:
    """ruamel nodes for a plain value: lists and mappings of scalars in flow style, as params.yaml writes bands."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, Mapping):
        node = CommentedMap((k, _node(v)) for k, v in value.items())
        if not any(isinstance(v, (Mapping, list, tuple)) for v in value.values()):
            node.fa.set_flow_style()
        return node
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq(_node(v) for v in value)
        seq.fa.set_flow_style()
        return seq
    return value


def _set_comment(parent: Any, key: str, text: str, column: int) -> None:
    """End-of-line comment of `key`: a description already there is kept ("...; observed x"), the full-line
    comments ruamel stores in the same token (those that follow the line) too."""
    from ruamel.yaml.tokens import CommentToken

    old = parent.ca.items.get(key)
    eol, tail = "", ""
    if old and len(old) > 2 and isinstance(old[2], CommentToken):
        eol, _, tail = old[2].value.partition("\n")
        column = old[2].column if eol.strip() else column
    described = _OBSERVED.sub("", eol.strip().lstrip("#").strip())
    if text.startswith("observed") and described and not described.startswith("observed"):
        text = f"{described}; {text}"
    parent.ca.items.pop(key, None)
    parent.yaml_add_eol_comment(f"# {text}", key, column=column)
    parent.ca.items[key][2].value = f"# {text}\n{tail}"


def _update(parent: Any, key: str, value: Any, comments: Mapping[str, str], path: str, column: int) -> None:
    from ruamel.yaml.comments import CommentedMap

    old = parent.get(key)
    nested = isinstance(value, Mapping) and any(isinstance(v, (Mapping, list, tuple)) for v in value.values())
    if nested and isinstance(old, CommentedMap):  # a block mapping (language_share): refilled in place, so
        for k in list(old):                        # the comment on its own key line stays
            del old[k]
            old.ca.items.pop(k, None)
        for k, v in value.items():
            _update(old, k, v, comments, f"{path}.{k}", column)
        return
    parent[key] = _node(value)
    if path in comments:
        _set_comment(parent, key, comments[path], column)


def _stage_block(lines: list[str], stage: str) -> tuple[int, int]:
    """[start, end) of the top-level `stage:` section (end after its last content line)."""
    head = re.compile(rf"^{re.escape(stage)}:\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if head.match(line.rstrip("\n"))), None)
    if start is None:
        raise RewriteError(f"params.yaml has no block section `{stage}:`")
    end = start + 1
    for i in range(start + 1, len(lines)):
        if _content(lines[i]):
            if _indent(lines[i]) == 0:
                break
            end = i + 1
    return start, end


def _gate_block(lines: list[str], start: int, end: int, stage: str) -> tuple[int | None, int, int]:
    """(line of `gate:` or None, first child line, end of children) inside the stage section."""
    content = [i for i in range(start + 1, end) if _content(lines[i])]
    if not content:
        return None, end, end
    child = _indent(lines[content[0]])
    gate = re.compile(rf"^ {{{child}}}gate:(\s.*)?$")
    at = next((i for i in content if gate.match(lines[i].rstrip("\n"))), None)
    if at is None:
        return None, end, end
    rest = lines[at].rstrip("\n").split(":", 1)[1].split(" #", 1)[0].strip()
    if rest not in ("", "null", "~", "{}"):
        raise RewriteError(f"{stage}.gate is written inline ({rest}); write it as a block mapping to calibrate it")
    stop = at + 1
    for i in range(at + 1, end):
        if _content(lines[i]) and _indent(lines[i]) <= child:
            break
        if _content(lines[i]) or (lines[i].strip() and _indent(lines[i]) > child):
            stop = i + 1
    return at, at + 1, stop


def rewrite_gates(text: str, updates: Mapping[str, Mapping[str, Any]],
                  comments: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """params.yaml text with `updates[stage][key]` set in each `stage.gate` (added where missing) and every
    other line unchanged. Raises RewriteError when the result would not parse to the intended params."""
    y = _yaml()
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    expected = yaml.safe_load(text) or {}
    for stage, values in updates.items():
        start, end = _stage_block(lines, stage)
        at, first, stop = _gate_block(lines, start, end, stage)
        child = next((_indent(lines[i]) for i in range(start + 1, end) if _content(lines[i])), 2)
        body = lines[first:stop]
        inner = next((_indent(line) for line in body if _content(line)), child + 2)
        dedented = "".join(line[inner:] if line.startswith(" " * inner) else line.lstrip(" ") for line in body)
        gate = y.load(dedented) if dedented.strip() else None
        if gate is None:
            from ruamel.yaml.comments import CommentedMap

            gate = CommentedMap()
        for key, value in values.items():
            _update(gate, key, value, (comments or {}).get(stage, {}), key, max(0, COMMENT_COLUMN - inner))
        out = io.StringIO()
        y.dump(gate, out)
        block = ["" if not line.strip() else " " * inner + line for line in out.getvalue().splitlines(keepends=True)]
        block = [line if line else "\n" for line in block]
        if at is None:
            lines[end:end] = [" " * child + "gate:\n"] + block
        else:
            lines[at] = re.sub(r"^(\s*gate:)\s*(null|~|\{\})(?=\s|$)", r"\1", lines[at], count=1)
            lines[first:stop] = block
        section = expected.setdefault(stage, {})
        section["gate"] = {**(section.get("gate") or {}), **copy.deepcopy(dict(values))}
    new = "".join(lines)
    if yaml.safe_load(new) != expected:
        raise RewriteError("rewriting the gate sections would change more than the gates; edit params.yaml by hand")
    return new
