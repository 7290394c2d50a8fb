"""Which dependency family a file belongs to, and the tree-sitter grammar that parses it.

The crawl stage names languages in its own spelling (`Python`, `C++`, `c#` ...); here every name is
folded to one canonical family key so that extraction and resolution do not depend on that spelling.
Files whose language is unknown are classified by extension. Grammars load lazily, once per worker
process; a missing grammar wheel makes its languages fall back to regex extraction (or to no edges).
"""
from __future__ import annotations

import importlib
import posixpath
from functools import lru_cache
from typing import Any

# canonical family key -> aliases (lower-case) that the crawl stage may use
_ALIASES: dict[str, tuple[str, ...]] = {
    "python": ("python", "py", "python3"),
    "c": ("c",),
    "cpp": ("cpp", "c++", "cxx", "cc"),
    "java": ("java",),
    "csharp": ("csharp", "c#", "cs", "c-sharp", "c_sharp"),
    "javascript": ("javascript", "js", "jsx", "node", "ecmascript"),
    "typescript": ("typescript", "ts", "tsx"),
    "go": ("go", "golang"),
    "rust": ("rust", "rs"),
    "kotlin": ("kotlin", "kt"),
    "scala": ("scala",),
    "ruby": ("ruby", "rb"),
    "php": ("php",),
    "lua": ("lua",),
    "shell": ("shell", "bash", "sh", "zsh"),
}
_ALIAS_TO_FAMILY = {alias: fam for fam, aliases in _ALIASES.items() for alias in aliases}

_EXT_TO_FAMILY: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp", ".tpp": "cpp", ".inl": "cpp",
    ".java": "java", ".cs": "csharp",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
    ".go": "go", ".rs": "rust", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".sc": "scala",
    ".rb": "ruby", ".php": "php", ".phtml": "php", ".lua": "lua",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell",
}

# family -> (module, attribute returning the language capsule); TypeScript has two grammars.
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "java": ("tree_sitter_java", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "scala": ("tree_sitter_scala", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
}

#: families handled only by regex (no grammar wheel is used for them)
REGEX_ONLY = ("lua", "shell")
FAMILIES = tuple(_ALIASES)


def family_of(lang: str | None, path: str) -> str | None:
    """Canonical family of a file: from its language name, else from its extension."""
    if lang:
        fam = _ALIAS_TO_FAMILY.get(lang.strip().lower())
        if fam:
            return fam
    name = posixpath.basename(path).lower()
    if name.endswith(".d.ts"):
        return "typescript"
    return _EXT_TO_FAMILY.get(posixpath.splitext(name)[1])


def grammar_key(family: str, path: str) -> str:
    """The grammar that parses a file of `family` (TSX needs its own TypeScript dialect)."""
    if family == "typescript" and path.lower().endswith(".tsx"):
        return "tsx"
    if family == "javascript":
        return "javascript"  # the JS grammar parses JSX too
    return family


@lru_cache(maxsize=None)
def load_language(key: str) -> Any | None:
    """tree_sitter.Language for a grammar key, or None when its wheel is not installed."""
    spec = _GRAMMARS.get(key)
    if spec is None:
        return None
    try:
        from tree_sitter import Language, Parser

        module = importlib.import_module(spec[0])
        language = Language(getattr(module, spec[1])())
        Parser(language)  # raises when the grammar's ABI does not match the tree-sitter runtime
        return language
    except (ImportError, AttributeError, ValueError, TypeError):
        return None


def languages_with_grammar() -> list[str]:
    """Families whose grammar loads in this environment (reported in metrics)."""
    return sorted(f for f in FAMILIES if load_language(grammar_key(f, "")) is not None)
