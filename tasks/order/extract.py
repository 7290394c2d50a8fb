"""Dependency statements of one file, read from its tree-sitter syntax tree.

Each family yields raw, unresolved statements as small tuples (first item = statement kind) plus the
packages / namespaces the file declares (Java, Kotlin, Scala, C#, PHP), which the resolver indexes.
Queries find the statement nodes anywhere in the tree (imports inside functions, nested namespaces);
the details are read from each node's children, so one query per language stays simple.

Statement tuples by family (the resolver in `resolve.py` consumes them):
  python      ("import", "a.b")  ("from", level, "a.b", ("x", "y"))      names "*" for wildcard
  c, cpp      ("include", "x/y.h")  ("system", "stdio.h")  ("macro", "HDR")
  java/kotlin/scala  ("import", "a.b.C", wildcard, static)
  csharp      ("using", "A.B", kind)  kind: "ns" | "static" | "alias"
  javascript/typescript  ("module", "./x")
  go          ("import", "example.com/m/pkg")
  rust        ("mod", ("inline", "name"))  ("use", ("crate", "a", "B"))
  ruby        ("require" | "require_relative" | "load", "x/y")
  php         ("use", "A\\B\\C", kind)  ("include", "x.php", dir_relative)  ("include_dynamic", "")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterator

from tasks.order.languages import load_language

Dep = tuple


@dataclass
class FileFacts:
    """What one file says about its dependencies and its own package/namespace."""

    deps: list[Dep] = field(default_factory=list)
    decls: list[str] = field(default_factory=list)
    syntax_error: bool = False


_QUERIES: dict[str, str] = {
    "python": "[(import_statement) (import_from_statement)] @s",
    "c": "(preproc_include path: (_) @p)",
    "cpp": "(preproc_include path: (_) @p)",
    "java": "(package_declaration) @pkg (import_declaration) @imp",
    "kotlin": "(package_header) @pkg (import) @imp",
    "scala": "(package_clause) @pkg (import_declaration) @imp",
    "csharp": """
        (using_directive) @use
        (namespace_declaration name: (_) @ns)
        (file_scoped_namespace_declaration name: (_) @ns)
    """,
    "javascript": """
        (import_statement source: (string (string_fragment) @spec))
        (export_statement source: (string (string_fragment) @spec))
        (call_expression function: (identifier) @fn
            arguments: (arguments . (string (string_fragment) @spec) .))
        (call_expression function: (import) arguments: (arguments . (string (string_fragment) @spec)))
    """,
    "go": "(import_spec path: (_) @p)",
    "rust": "(mod_item) @mod (use_declaration argument: (_) @use)",
    "ruby": """
        (call method: (identifier) @m arguments: (argument_list . (string . (string_content) @s .) .))
    """,
    "php": """
        (namespace_definition name: (namespace_name) @ns)
        (namespace_use_declaration) @use
        [(include_expression) (include_once_expression) (require_expression) (require_once_expression)] @inc
    """,
}
_QUERIES["typescript"] = _QUERIES["javascript"] + "(import_require_clause source: (string (string_fragment) @spec))"
_QUERIES["tsx"] = _QUERIES["typescript"]


@lru_cache(maxsize=None)
def _query(key: str) -> Any:
    from tree_sitter import Query

    return Query(load_language(key), _QUERIES[key])


def _captures(key: str, node: Any) -> dict[str, list[Any]]:
    from tree_sitter import QueryCursor

    found = QueryCursor(_query(key)).captures(node)
    return {name: sorted(nodes, key=lambda n: n.start_byte) for name, nodes in found.items()}


def _text(src: bytes, node: Any) -> str:
    # slice our own bytes: node.text (and text predicates such as #eq? in a query, which is why the
    # queries have none) re-read through the parse callback, far slower and a leak (tasks/order/parsing.py)
    return src[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _compact(src: bytes, node: Any) -> str:
    """Node text without whitespace (dotted names may span lines)."""
    return "".join(_text(src, node).split())


def _strip_quotes(s: str) -> str:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'`":
        return s[1:-1]
    return s


# --- per family ---------------------------------------------------------------------------------

def _python(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    for node in _captures(key, root).get("s", []):
        if node.type == "import_statement":
            for name in node.children_by_field_name("name"):
                if name.type == "aliased_import":
                    name = name.child_by_field_name("name")
                facts.deps.append(("import", _compact(src, name)))
            continue
        module = node.child_by_field_name("module_name")
        if module is None:
            continue
        level, dotted = 0, _compact(src, module)
        if module.type == "relative_import":
            prefix = next((c for c in module.children if c.type == "import_prefix"), None)
            level = _text(src, prefix).count(".") if prefix is not None else 0
            dotted_node = next((c for c in module.children if c.type == "dotted_name"), None)
            dotted = _compact(src, dotted_node) if dotted_node is not None else ""
        names: list[str] = []
        if any(c.type == "wildcard_import" for c in node.children):
            names.append("*")
        for name in node.children_by_field_name("name"):
            if name.type == "aliased_import":
                name = name.child_by_field_name("name")
            names.append(_compact(src, name))
        facts.deps.append(("from", level, dotted, tuple(names)))


def _c_family(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    for node in _captures(key, root).get("p", []):
        raw = _text(src, node).strip()
        if node.type == "string_literal":
            facts.deps.append(("include", _strip_quotes(raw)))
        elif node.type == "system_lib_string":
            facts.deps.append(("system", raw[1:-1]))
        else:
            facts.deps.append(("macro", raw))


def _java(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    caps = _captures(key, root)
    for node in caps.get("pkg", []):
        name = next((c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None)
        if name is not None:
            facts.decls.append(_compact(src, name))
    for node in caps.get("imp", []):
        name = next((c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None)
        if name is None:
            continue
        wildcard = any(c.type == "asterisk" for c in node.children)
        static = any(c.type == "static" for c in node.children)
        facts.deps.append(("import", _compact(src, name), wildcard, static))


def _kotlin(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    caps = _captures(key, root)
    for node in caps.get("pkg", []):
        name = next((c for c in node.named_children if c.type == "qualified_identifier"), None)
        if name is not None:
            facts.decls.append(_compact(src, name))
    for node in caps.get("imp", []):
        name = next((c for c in node.named_children if c.type == "qualified_identifier"), None)
        if name is None:
            continue
        wildcard = any(c.type == "*" for c in node.children)
        facts.deps.append(("import", _compact(src, name), wildcard, False))


def _scala(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    caps = _captures(key, root)
    parts = []
    for node in caps.get("pkg", []):
        name = next((c for c in node.named_children if c.type == "package_identifier"), None)
        if name is not None:
            parts.append(_compact(src, name))
    if parts:
        facts.decls.append(".".join(parts))
    for node in caps.get("imp", []):
        path = [_compact(src, c) for c in node.children_by_field_name("path") if c.is_named]
        if not path:
            continue
        base = ".".join(path)
        selectors = next((c for c in node.named_children if c.type == "namespace_selectors"), None)
        if any(c.type == "namespace_wildcard" for c in node.named_children):
            facts.deps.append(("import", base, True, False))
        elif selectors is not None:
            for sel in selectors.named_children:
                if sel.type == "arrow_renamed_identifier":
                    sel = sel.child_by_field_name("name") or sel
                if sel.type in ("namespace_wildcard", "wildcard"):
                    facts.deps.append(("import", base, True, False))
                elif sel.type == "identifier":
                    facts.deps.append(("import", f"{base}.{_compact(src, sel)}", False, False))
        else:
            facts.deps.append(("import", base, False, False))


def _csharp_name(src: bytes, node: Any) -> str:
    name = _compact(src, node)
    if "::" in name:  # global::A.B or alias::A
        name = name.split("::", 1)[1]
    depth, out = 0, []
    for ch in name:  # drop generic arguments: A.List<T> -> A.List
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _csharp(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    caps = _captures(key, root)
    for node in caps.get("ns", []):
        parts = [_csharp_name(src, node)]
        parent = node.parent.parent if node.parent is not None else None
        while parent is not None:
            if parent.type == "namespace_declaration":
                outer = parent.child_by_field_name("name")
                if outer is not None:
                    parts.append(_csharp_name(src, outer))
            parent = parent.parent
        facts.decls.append(".".join(reversed(parts)))
    for node in caps.get("use", []):
        alias = node.child_by_field_name("name")
        targets = [c for c in node.named_children
                   if c.type in ("qualified_name", "identifier", "generic_name", "alias_qualified_name")
                   and (alias is None or c.id != alias.id)]
        if not targets:
            continue
        kind = "static" if any(c.type == "static" for c in node.children) else ("alias" if alias is not None else "ns")
        facts.deps.append(("using", _csharp_name(src, targets[-1]), kind))


def _js(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    from tree_sitter import QueryCursor

    specs = {}
    for _idx, match in QueryCursor(_query(key)).matches(root):
        fn = match.get("fn")
        if fn and _text(src, fn[0]) != "require":
            continue
        for node in match.get("spec", []):
            specs[(node.start_byte, node.end_byte)] = node
    for _span, node in sorted(specs.items()):
        facts.deps.append(("module", _text(src, node)))


def _go(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    for node in _captures(key, root).get("p", []):
        facts.deps.append(("import", _strip_quotes(_text(src, node).strip())))


def _rust_paths(src: bytes, node: Any, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """Expand a use tree (`a::{b, c::d as e, self}`) into full paths."""
    kind = node.type
    if kind in ("identifier", "self", "super", "crate", "metavariable"):
        yield prefix if kind == "self" and prefix else prefix + (_text(src, node),)
    elif kind == "scoped_identifier":
        path = node.child_by_field_name("path")
        name = node.child_by_field_name("name")
        head = next(_rust_paths(src, path, prefix), prefix) if path is not None else prefix
        yield head + ((_text(src, name),) if name is not None else ())
    elif kind == "use_as_clause":
        path = node.child_by_field_name("path")
        if path is not None:
            yield from _rust_paths(src, path, prefix)
    elif kind == "use_wildcard":
        inner = next((c for c in node.named_children), None)
        yield from (_rust_paths(src, inner, prefix) if inner is not None else [prefix])
    elif kind == "scoped_use_list":
        path = node.child_by_field_name("path")
        head = next(_rust_paths(src, path, prefix), prefix) if path is not None else prefix
        lst = node.child_by_field_name("list")
        if lst is not None:
            yield from _rust_paths(src, lst, head)
    elif kind == "use_list":
        for child in node.named_children:
            yield from _rust_paths(src, child, prefix)


def _rust(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    caps = _captures(key, root)
    for node in caps.get("mod", []):
        name = node.child_by_field_name("name")
        if name is None or node.child_by_field_name("body") is not None:
            continue
        inline: list[str] = []
        parent = node.parent
        while parent is not None:
            if parent.type == "mod_item" and parent.child_by_field_name("name") is not None:
                inline.append(_text(src, parent.child_by_field_name("name")))
            parent = parent.parent
        facts.deps.append(("mod", tuple(reversed(inline)) + (_text(src, name),)))
    for node in caps.get("use", []):
        for path in _rust_paths(src, node, ()):
            if path:
                facts.deps.append(("use", path))


_RUBY_LOADS = frozenset({"require", "require_relative", "load"})


def _ruby(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    from tree_sitter import QueryCursor

    for _idx, match in QueryCursor(_query(key)).matches(root):
        method, arg = match["m"][0], match["s"][0]
        if _text(src, method) not in _RUBY_LOADS:
            continue
        if method.parent is not None and method.parent.child_by_field_name("receiver") is not None:
            continue
        facts.deps.append((_text(src, method), _text(src, arg)))


def _php_string(src: bytes, node: Any) -> str | None:
    if node.type in ("string", "encapsed_string"):
        if any(c.type in ("variable_name", "dynamic_variable_name", "member_access_expression",
                          "subscript_expression") for c in node.named_children):
            return None
        return _strip_quotes(_text(src, node).strip())
    return None


def _php_include(src: bytes, node: Any) -> Dep:
    expr = next(iter(node.named_children), None)
    while expr is not None and expr.type == "parenthesized_expression":
        expr = next(iter(expr.named_children), None)
    if expr is None:
        return ("include_dynamic", "")
    literal = _php_string(src, expr)
    if literal is not None:
        return ("include", literal, False)
    if expr.type == "binary_expression":
        left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
        rest = _php_string(src, right) if right is not None else None
        left_text = _compact(src, left) if left is not None else ""
        if rest is not None and left_text in ("__DIR__", "dirname(__FILE__)"):
            return ("include", rest.lstrip("/"), True)
    return ("include_dynamic", "")


def _php_use_kind(children: list[Any]) -> str:
    """`use function` / `use const` (the keyword sits on the declaration or on the clause)."""
    types = {c.type for c in children}
    return "function" if "function" in types else ("const" if "const" in types else "class")


def _php(key: str, root: Any, facts: FileFacts, src: bytes) -> None:
    caps = _captures(key, root)
    for node in caps.get("ns", []):
        facts.decls.append(_compact(src, node).strip("\\"))
    for node in caps.get("use", []):
        kind = _php_use_kind(node.children)
        prefix_node = next((c for c in node.named_children if c.type == "namespace_name"), None)
        prefix = _compact(src, prefix_node).strip("\\") if prefix_node is not None else ""
        clauses = [c for c in node.named_children if c.type == "namespace_use_clause"]
        for group in (c for c in node.named_children if c.type == "namespace_use_group"):
            clauses.extend(c for c in group.named_children if c.type == "namespace_use_clause")
        for clause in clauses:
            alias = clause.child_by_field_name("alias")
            name = next((c for c in clause.named_children
                         if c.type in ("qualified_name", "name") and (alias is None or c.id != alias.id)), None)
            if name is None:
                continue
            full = _compact(src, name).strip("\\")
            clause_kind = _php_use_kind(clause.children) if kind == "class" else kind
            facts.deps.append(("use", f"{prefix}\\{full}" if prefix else full, clause_kind))
    for node in caps.get("inc", []):
        facts.deps.append(_php_include(src, node))


_EXTRACTORS: dict[str, Callable[[str, Any, FileFacts, bytes], None]] = {
    "python": _python, "c": _c_family, "cpp": _c_family, "java": _java, "kotlin": _kotlin,
    "scala": _scala, "csharp": _csharp, "javascript": _js, "typescript": _js, "tsx": _js,
    "go": _go, "rust": _rust, "ruby": _ruby, "php": _php,
}


def extract_tree(key: str, tree: Any, source: bytes) -> FileFacts:
    """Dependency statements and declarations of a parsed file (grammar key `key`, its `source`)."""
    facts = FileFacts(syntax_error=tree.root_node.has_error)
    _EXTRACTORS[key](key, tree.root_node, facts, source)
    return facts
