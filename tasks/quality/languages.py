"""tree-sitter grammars for the languages we screen, from the per-language wheels.

Grammars load lazily and once per process (a worker pays the cost only for languages it sees).
Language names from the crawl are matched case-insensitively with common aliases; a language
without a grammar gets `None` and is simply not screened by the tree-sitter checks.
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from tree_sitter import Language, Parser, Query, QueryCursor, QueryError

# canonical grammar key -> (module, function returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "c_sharp": ("tree_sitter_c_sharp", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
}

_ALIASES = {
    "python": "python", "py": "python",
    "java": "java",
    "c": "c",
    "c++": "cpp", "cpp": "cpp", "cxx": "cpp",
    "c#": "c_sharp", "csharp": "c_sharp", "c-sharp": "c_sharp", "c_sharp": "c_sharp", "cs": "c_sharp",
    "javascript": "javascript", "js": "javascript", "jsx": "javascript",
    "typescript": "typescript", "ts": "typescript",
    "tsx": "tsx",
    "go": "go", "golang": "go",
    "rust": "rust", "rs": "rust",
}

# node types that make a "function" (for lines per function) and a nesting "block"
_FUNCTION_TYPES = {
    "python": ["function_definition", "lambda"],
    "java": ["method_declaration", "constructor_declaration", "lambda_expression"],
    "c": ["function_definition"],
    "cpp": ["function_definition", "lambda_expression"],
    "c_sharp": ["method_declaration", "constructor_declaration", "local_function_statement",
                "lambda_expression"],
    "javascript": ["function_declaration", "function_expression", "arrow_function",
                   "method_definition", "generator_function_declaration"],
    "typescript": ["function_declaration", "function_expression", "arrow_function",
                   "method_definition", "generator_function_declaration"],
    "go": ["function_declaration", "method_declaration", "func_literal"],
    "rust": ["function_item", "closure_expression"],
}
_FUNCTION_TYPES["tsx"] = _FUNCTION_TYPES["typescript"]
_BLOCK_TYPES = {
    "python": ["block"],
    "java": ["block", "class_body", "switch_block"],
    "c": ["compound_statement"],
    "cpp": ["compound_statement"],
    "c_sharp": ["block", "declaration_list", "switch_body"],
    "javascript": ["statement_block", "class_body", "switch_body"],
    "typescript": ["statement_block", "class_body", "switch_body"],
    "go": ["block"],
    "rust": ["block", "declaration_list"],
}
_BLOCK_TYPES["tsx"] = _BLOCK_TYPES["typescript"]
# comment nodes (so that function length counts code lines, not doc comments); unknown types are dropped per grammar
_COMMENT_TYPES = ["comment", "line_comment", "block_comment"]


def grammar_key(lang: str | None, path: str = "") -> str | None:
    """Grammar for a file's language name (TypeScript files ending in .tsx use the TSX grammar)."""
    if not lang:
        return None
    key = _ALIASES.get(lang.strip().lower())
    if key == "typescript" and path.lower().endswith(".tsx"):
        return "tsx"
    return key


@dataclass(frozen=True)
class Grammar:
    key: str
    language: Language
    structure: Query | None  # captures @function, @block and @comment nodes in one pass over the tree

    def parser(self) -> Parser:
        return Parser(self.language)


def _valid_types(language: Language, types: list[str]) -> list[str]:
    """The node types this grammar knows (a query naming an unknown type fails to compile)."""
    valid = []
    for node_type in types:
        try:
            Query(language, f"({node_type}) @n")
            valid.append(node_type)
        except QueryError:
            continue
    return valid


def _structure_query(language: Language, key: str) -> Query | None:
    patterns = [f"({t}) @function" for t in _valid_types(language, _FUNCTION_TYPES.get(key, []))]
    patterns += [f"({t}) @block" for t in _valid_types(language, _BLOCK_TYPES.get(key, []))]
    if patterns:
        patterns += [f"({t}) @comment" for t in _valid_types(language, _COMMENT_TYPES)]
    return Query(language, "\n".join(patterns)) if patterns else None


@functools.lru_cache(maxsize=None)
def grammar(key: str) -> Grammar | None:
    """Loaded grammar and its queries, or None if the wheel is missing."""
    if key not in _GRAMMARS:
        return None
    module_name, func = _GRAMMARS[key]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    language = Language(getattr(module, func)())
    return Grammar(key, language, _structure_query(language, key))


@functools.lru_cache(maxsize=None)
def parser(key: str) -> Parser | None:
    g = grammar(key)
    return g.parser() if g else None


def captures(query: Query, node) -> dict[str, list]:
    """Nodes per capture name under `node`, each list in document order (outer before inner)."""
    found = QueryCursor(query).captures(node)
    for nodes in found.values():
        nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
    return found
