"""Regex fallback for languages without a tree-sitter grammar.

Used always for Lua (`require "a.b"`) and shell (`source x.sh`, `. x.sh`), which have no grammar
wheel here, and for Kotlin, Scala, Ruby and PHP only when their grammar wheels
(tree-sitter-kotlin, -scala, -ruby, -php) are not installed. The patterns are line-based and miss
statements split across lines; they produce the same statement tuples as `extract.py`.
"""
from __future__ import annotations

import re
from typing import Callable

from tasks.order.extract import FileFacts

_JVM_PACKAGE = re.compile(r"^\s*package\s+([\w.`]+)", re.M)
_KOTLIN_IMPORT = re.compile(r"^\s*import\s+([\w.`]+?)(\.\*)?(?:\s+as\s+\w+)?\s*;?\s*$", re.M)
_SCALA_IMPORT = re.compile(r"^\s*import\s+([\w.]+?)(?:\.(_|\*|\{[^}\n]*\}))?\s*$", re.M)
_RUBY = re.compile(r"""^\s*(require|require_relative|load)\s*\(?\s*(['"])([^'"\n#{}]+)\2""", re.M)
_PHP_NS = re.compile(r"^\s*namespace\s+([\w\\]+)\s*[;{]", re.M)
_PHP_USE = re.compile(r"^\s*use\s+(function\s+|const\s+)?([\w\\]+)(?:\s+as\s+\w+)?\s*;", re.M)
_PHP_INC = re.compile(
    r"""\b(?:require|include)(?:_once)?\s*\(?\s*(__DIR__\s*\.\s*|dirname\(__FILE__\)\s*\.\s*)?(['"])([^'"$\n]+)\2""")
_LUA = re.compile(r"""\brequire\s*\(?\s*(['"])([\w./-]+)\1""")
_SHELL = re.compile(r"""^\s*(?:source|\.)\s+(['"]?)([^\s'";|&]+)\1""", re.M)


def _kotlin(text: str, facts: FileFacts) -> None:
    pkg = _JVM_PACKAGE.search(text)
    if pkg:
        facts.decls.append(pkg.group(1).replace("`", ""))
    for m in _KOTLIN_IMPORT.finditer(text):
        facts.deps.append(("import", m.group(1).replace("`", ""), bool(m.group(2)), False))


def _scala(text: str, facts: FileFacts) -> None:
    pkgs = [m.group(1) for m in _JVM_PACKAGE.finditer(text)]
    if pkgs:
        facts.decls.append(".".join(pkgs))
    for m in _SCALA_IMPORT.finditer(text):
        base, tail = m.group(1), m.group(2)
        if tail in ("_", "*"):
            facts.deps.append(("import", base, True, False))
        elif tail:
            for sel in tail.strip("{}").split(","):
                name = sel.split("=>")[0].strip()
                if name in ("_", "*"):
                    facts.deps.append(("import", base, True, False))
                elif name:
                    facts.deps.append(("import", f"{base}.{name}", False, False))
        else:
            facts.deps.append(("import", base, False, False))


def _ruby(text: str, facts: FileFacts) -> None:
    for m in _RUBY.finditer(text):
        facts.deps.append((m.group(1), m.group(3)))


def _php(text: str, facts: FileFacts) -> None:
    facts.decls.extend(m.group(1).strip("\\") for m in _PHP_NS.finditer(text))
    for m in _PHP_USE.finditer(text):
        kind = (m.group(1) or "class").strip()
        facts.deps.append(("use", m.group(2).strip("\\"), kind))
    for m in _PHP_INC.finditer(text):
        dir_rel = bool(m.group(1))
        spec = m.group(3).lstrip("/") if dir_rel else m.group(3)
        facts.deps.append(("include", spec, dir_rel))


def _lua(text: str, facts: FileFacts) -> None:
    for m in _LUA.finditer(text):
        facts.deps.append(("require", m.group(2)))


def _shell(text: str, facts: FileFacts) -> None:
    for m in _SHELL.finditer(text):
        facts.deps.append(("source", m.group(2)))


REGEX_EXTRACTORS: dict[str, Callable[[str, FileFacts], None]] = {
    "kotlin": _kotlin, "scala": _scala, "ruby": _ruby, "php": _php, "lua": _lua, "shell": _shell,
}


def extract_regex(family: str, text: str) -> FileFacts:
    """Dependency statements of a file found by line patterns (no syntax tree)."""
    facts = FileFacts()
    REGEX_EXTRACTORS[family](text, facts)
    return facts
