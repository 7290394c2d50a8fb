"""Run profiles: a YAML overlay of params.yaml (`profiles/<name>.yaml`) written into params.yaml itself, so DVC
tracks every value a run used and reruns exactly the stages whose sections the profile changes.

Usage: `python -m flows.profile diff paper` (what would change) and `python -m flows.profile apply paper`
(`make profile-paper`); `git checkout params.yaml` goes back to the default CPU run.

The overlay is laid key by key: a mapping goes into the mapping of params.yaml, anything else (a list, a
scalar, null) replaces the value. params.yaml is edited round-trip (ruamel.yaml), so its comments stay.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any, Iterator

from ruamel.yaml import YAML

from tasks.common.io import atomic_write_text
from tasks.common.params import named_yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "profiles"


def profile_path(name_or_path: str) -> Path:
    try:
        return named_yaml(PROFILES, name_or_path, "profile")
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from exc


def _yaml() -> YAML:
    """Round-trip YAML in params.yaml's own style, so an empty profile rewrites the file byte for byte."""
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096  # never fold a line
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


def overlay(base: Any, profile: dict[str, Any]) -> None:
    """Lay `profile` over the mapping `base` in place (mappings merged, everything else replaced; an equal
    value is left as it is written)."""
    for key, value in profile.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            overlay(base[key], value)
        elif key not in base or _plain(base[key]) != _plain(value):
            base[key] = value


def changes(before: Any, after: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted key, old, new) for every leaf that differs."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before) + [k for k in after if k not in before]:
            yield from changes(before.get(key), after.get(key), f"{prefix}{key}.")
    elif before != after:
        yield prefix.rstrip("."), before, after


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def render(params_path: Path, profile: Path) -> tuple[str, list[tuple[str, Any, Any]]]:
    """params.yaml's text with the profile laid over it, and the list of changes."""
    y = _yaml()
    data = y.load(params_path.read_text(encoding="utf-8"))
    before = _plain(data)
    overlay(data, y.load(profile.read_text(encoding="utf-8")) or {})
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue(), list(changes(before, _plain(data)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m flows.profile", description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("diff", "apply"))
    ap.add_argument("profile", help="a name in profiles/ (paper) or a YAML file")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = ap.parse_args(argv)
    text, diff = render(args.params, profile_path(args.profile))
    for key, old, new in diff:
        print(f"{key}: {old!r} -> {new!r}")
    if args.action == "apply":
        atomic_write_text(args.params, text)
        print(f"{args.params}: {len(diff)} values from {args.profile}; `git checkout {args.params}` reverts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
