"""Checking a solution's code without trusting it.

Python: `compile()` (never executed here), the quality stage's check. Other languages: the quality
stage's tree-sitter grammars and its unparsed-byte share (`tasks.quality.syntax.error_share`), with
the order stage's extra grammars (PHP, Kotlin, Scala, Ruby) for languages quality does not screen.
A language with no grammar installed (Shell, Swift) is reported `unchecked` and kept. Tests, when
the teacher wrote some, run appended to the solution in the evaluation sandbox
(`tasks.evaluate.sandbox.run_programs`), never in this process.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from tasks.quality.syntax import check_python_compile, error_share


@dataclass(frozen=True)
class SyntaxCheck:
    status: str  # ok | error | unchecked
    detail: str | None = None


def _parser_for(lang: str) -> Any | None:
    from tasks.quality.languages import grammar_key, parser

    key = grammar_key(lang)
    found = parser(key) if key else None
    if found is not None:
        return found
    from tree_sitter import Parser

    from tasks.order.languages import family_of, grammar_key as order_grammar_key, load_language

    family = family_of(lang, "")
    language = load_language(order_grammar_key(family, "")) if family else None
    return Parser(language) if language is not None else None


def check_code(code: str, lang: str, max_error_share: float) -> SyntaxCheck:
    """Does `code` parse as `lang`?"""
    if not code.strip():
        return SyntaxCheck("error", "empty code block")
    if lang == "Python":
        finding = check_python_compile(code, "<solution>")
        return SyntaxCheck("ok") if finding is None else SyntaxCheck("error", finding.detail)
    parser = _parser_for(lang)
    if parser is None:
        return SyntaxCheck("unchecked", f"no tree-sitter grammar for {lang}")
    data = code.encode("utf-8", "surrogatepass")
    if lang == "PHP" and b"<?php" not in data:  # without the open tag the grammar reads it all as HTML text
        data = b"<?php\n" + data
    share = error_share(parser.parse(data), data)
    if share > max_error_share:
        return SyntaxCheck("error", f"unparsed byte share {share:.3f} > {max_error_share}")
    return SyntaxCheck("ok")


def tests_program(solution_code: Sequence[str], tests: str) -> str:
    """The program the sandbox runs: the solution's blocks, then the tests."""
    return "\n\n".join([*solution_code, tests]) + "\n"


def run_tests(programs: Sequence[str], timeout_s: float, memory_mb: int, workers: int) -> list[tuple[bool, str]]:
    """(passed, detail) per program, in order; each runs in its own locked-down process."""
    if not programs:
        return []
    from tasks.evaluate.sandbox import Limits, run_programs

    results = run_programs(list(programs), timeout_s=timeout_s, limits=Limits(memory_mb=memory_mb), workers=workers)
    return [(r.passed, "" if r.passed else f"{r.status}: {r.detail}"[:300]) for r in results]
