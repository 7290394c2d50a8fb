"""Render a repo-level sample: each file headed by its path as a comment in its own language.

The comment syntax comes from `tasks.crawl.languages.comment_syntax(lang)`, the single place that
knows language names; the small table below is only used when that module is absent or does not
know the language. `quality` and `dedup` re-render samples with this same function, so a sample's
text is always `render_sample(files, langs, contents)`.
"""
from __future__ import annotations

import posixpath
from functools import lru_cache
from typing import Sequence

from tasks.order.languages import family_of

_LINE = {"#": ("python", "ruby", "shell", "perl", "r", "yaml", "toml", "makefile", "dockerfile", "cmake",
               "powershell", "julia", "elixir", "nim", "crystal", "coffeescript", "tcl", "awk"),
         "//": ("c", "cpp", "java", "csharp", "javascript", "typescript", "go", "rust", "kotlin", "scala",
                "php", "swift", "dart", "groovy", "objective-c", "objective-c++", "cuda", "protobuf", "json",
                "solidity", "zig", "v", "d", "verilog", "systemverilog", "glsl", "hlsl", "f#", "fsharp"),
         "--": ("lua", "sql", "haskell", "elm", "ada", "vhdl", "purescript", "agda", "idris"),
         "%": ("matlab", "tex", "latex", "erlang", "prolog", "octave"),
         ";": ("lisp", "common lisp", "scheme", "clojure", "racket", "emacs lisp", "assembly", "asm", "ini"),
         "!": ("fortran",),
         "'": ("visual basic", "vb", "vba", "vbscript")}
_FALLBACK: dict[str, tuple[str, str]] = {name: (mark + " ", "") for mark, names in _LINE.items() for name in names}
_FALLBACK.update({name: ("<!-- ", " -->") for name in ("html", "xml", "markdown", "vue", "svelte", "svg", "xaml")})
_FALLBACK.update({name: ("/* ", " */") for name in ("css", "scss", "less", "sass")})
_EXT_FALLBACK = {".md": "markdown", ".html": "html", ".htm": "html", ".xml": "xml", ".css": "css",
                 ".scss": "scss", ".sql": "sql", ".yml": "yaml", ".yaml": "yaml", ".toml": "toml",
                 ".json": "json", ".hs": "haskell", ".swift": "swift", ".dart": "dart", ".r": "r",
                 ".pl": "perl", ".m": "objective-c", ".vue": "vue", ".tex": "tex", ".f90": "fortran"}


def _from_crawl(lang: str) -> tuple[str, str] | None:
    try:
        from tasks.crawl.languages import comment_syntax
    except ImportError:
        return None
    try:
        prefix, suffix = comment_syntax(lang)
    except (KeyError, ValueError, TypeError):
        return None
    return (prefix, suffix) if isinstance(prefix, str) and prefix and isinstance(suffix, str) else None


@lru_cache(maxsize=4096)
def comment_markers(lang: str | None, ext: str = "") -> tuple[str, str]:
    """(prefix, suffix) that make one line a comment; suffix is "" for line comments.

    `ext` (the file's extension) only matters when the language is unknown (null lang).
    """
    found = _from_crawl(lang) if lang else None
    if found:
        return found
    name = (lang or "").strip().lower()
    if name in _FALLBACK:
        return _FALLBACK[name]
    family = family_of(lang, "x" + ext) or _EXT_FALLBACK.get(ext)
    return _FALLBACK.get(family or "", ("# ", ""))


def render_header(path: str, lang: str | None) -> str:
    """The comment line that heads a file in a sample."""
    prefix, suffix = comment_markers(lang, posixpath.splitext(path)[1].lower())
    return f"{prefix}{path}{suffix}"


def render_sample(files: Sequence[str], langs: Sequence[str | None], contents: Sequence[str]) -> str:
    """Concatenate files in the given order, each headed by its path comment, separated by a newline."""
    if not len(files) == len(langs) == len(contents):
        raise ValueError(f"render_sample: {len(files)} files, {len(langs)} langs, {len(contents)} contents")
    return "\n".join(f"{render_header(path, lang)}\n{content}" for path, lang, content in zip(files, langs, contents))
