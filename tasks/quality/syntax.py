"""Syntax screening: tree-sitter error share per file, and `compile()` as a second opinion for Python.

Error share (what `syntax.max_error_share` bounds) is measured in **bytes**: the bytes tree-sitter
could not attribute to any well-formed construct, over the file's bytes. Inside an ERROR node, a
complete error-free subtree (a whole declaration the parser recognised) and comments count as
parsed, stray tokens and skipped text count as errors; a zero-width MISSING node (an invented `;` or `)`) counts
the bytes of its line. Not the raw span of ERROR nodes: one confusing macro in a C header makes
tree-sitter wrap the rest of the file in a single ERROR node full of good declarations (glibc's
headers: 40% of them over a 0.1 span share, 6% over 0.2 unparsed share), while code in the wrong
language or garbage stays high either way (measured: wrong-language files 0.16-0.8 unparsed).
C and C++ share file extensions (`.h`), so a C/C++ file over the threshold is re-parsed with the
other grammar and the lower share counts. The quality stage goes further (`best_parse`): a C/C++ file
over `syntax.reparse_share` is parsed both ways and the better tree is kept for the structure rules
too - a C++ header read as C turns `FMT_BEGIN_NAMESPACE ... ` into one bogus 700-line function.

Python 2 files: `compile()` rejects them (print statements, `except E, e:`, `0777`, backticks), while
tree-sitter's Python grammar still parses most of them. They are reported under their own reason
`python2` (not `syntax_python`) so the corpus report shows how much legacy code there was, and
`syntax.python2` decides: `drop` (default: the model should learn the dialect people write today)
or `keep` (only the tree-sitter share then applies).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass


_PY2_MESSAGES = (
    "Missing parentheses in call to 'print'",
    "Missing parentheses in call to 'exec'",
    "multiple exception types must be parenthesized",
    "leading zeros in decimal integer literals",
)
_PY2_SOURCE = re.compile(
    r"^[ \t]*print[ \t]+[\"'\w]"  # print statement
    r"|^[ \t]*print[ \t]*>>"  # print >>f, x
    r"|^[ \t]*except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:"  # except E, e:
    r"|^[ \t]*exec[ \t]+[\"'\w]"  # exec statement
    r"|^[ \t]*raise[ \t]+[\w.]+[ \t]*,"  # raise E, msg
    r"|\bur[\"']"  # ur"" literals
    r"|\b\d+L\b",  # long literals
    re.MULTILINE,
)


@dataclass(frozen=True)
class Finding:
    """Why a file is removed: a reason key (metrics/decisions) and a human-readable detail."""

    reason: str
    detail: str | None = None


def _line_bytes(data: bytes, pos: int) -> int:
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return (len(data) if end < 0 else end + 1) - start


def error_share(tree, data: bytes) -> float:
    """Share of the file's bytes not covered by a well-formed construct (see module docstring)."""
    root = tree.root_node
    if not root.has_error or not data:
        return 0.0
    unparsed = 0
    stack = [(root, False)]
    while stack:
        node, in_error = stack.pop()
        if node.is_missing:
            unparsed += _line_bytes(data, node.start_byte)
            continue
        in_error = in_error or node.is_error
        if not node.has_error:
            if in_error and node.child_count == 0 and not node.is_extra:  # a stray token; comments are fine
                unparsed += node.end_byte - node.start_byte
            continue  # an error-free subtree: parsed
        if node.child_count == 0:  # an ERROR leaf: skipped text
            unparsed += node.end_byte - node.start_byte
            continue
        stack.extend((child, in_error) for child in node.children)
    return min(1.0, unparsed / len(data))


ALTERNATIVES = {"c": ("cpp",), "cpp": ("c",)}


@dataclass(frozen=True)
class Parse:
    """A file's tree under the grammar that parsed it best, with the shares of every grammar tried."""

    key: str
    tree: object
    share: float
    tried: tuple[str, ...]  # "c 0.327", "cpp 0.009"


def best_parse(tree, data: bytes, key: str, reparse=None, retry_above: float = 0.0) -> Parse:
    """The tree with the lowest unparsed share among `key` and its alternatives (tried only when
    `key`'s share is over `retry_above`); ties keep `key`. `reparse(key, data)` gives another tree."""
    share = error_share(tree, data)
    tried = [f"{key} {share:.3f}"]
    best = (key, tree, share)
    if share > retry_above and reparse is not None:
        for other in ALTERNATIVES.get(key, ()):
            other_tree = reparse(other, data)
            if other_tree is None:
                continue
            other_share = error_share(other_tree, data)
            tried.append(f"{other} {other_share:.3f}")
            if other_share < best[2]:
                best = (other, other_tree, other_share)
    return Parse(*best, tuple(tried))


def share_finding(parsed: Parse, max_share: float) -> Finding | None:
    """`syntax_error` when even the best grammar left more than max_share of the bytes unparsed."""
    if parsed.share <= max_share:
        return None
    return Finding("syntax_error", f"unparsed byte share {', '.join(parsed.tried)}")


def check_error_share(tree, data: bytes, key: str, max_share: float, reparse=None) -> Finding | None:
    """`reparse(key, data)` gives a tree with another grammar (for C/C++ alternatives)."""
    return share_finding(best_parse(tree, data, key, reparse, retry_above=max_share), max_share)


def looks_like_python2(source: str, message: str) -> bool:
    """A compile failure caused by Python 2 syntax rather than by broken code."""
    return any(m in message for m in _PY2_MESSAGES) or _PY2_SOURCE.search(source) is not None


def check_python_compile(source: str, path: str) -> Finding | None:
    """Compile (never execute) Python source; Python 2 failures get their own reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes etc. is not an error
            compile(source, path or "<file>", "exec", dont_inherit=True)
    except SyntaxError as exc:  # includes IndentationError / TabError
        message = f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
        if looks_like_python2(source, exc.msg or ""):
            return Finding("python2", message)
        return Finding("syntax_python", message)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:  # null bytes, compiler limits
        return Finding("syntax_python", f"{type(exc).__name__}: {exc}")
    return None
