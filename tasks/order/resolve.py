"""Resolve dependency statements to files of the same repository.

A statement resolves to zero files (external: standard library, third-party package, or a file the
crawl did not keep) or to one or more repo files. Nothing is guessed: ambiguous fallbacks (a header
found only by its path suffix, a Go import path found only by suffix) resolve only when unique, and
candidates are ranked deterministically (closest directory first, then path).

Per family:
  python  module index over source roots (repo root, plus the parent of every top-level package:
          `src/`, `lib/` ... are found where top-level packages live, not by name), the importing
          file's own root first; relative imports from the file's package; `from p import m` prefers
          submodule `p.m`; otherwise the longest existing prefix of the dotted name.
  c/cpp   quoted includes: the including file's directory, then every directory named `include`,
          then the repo root, then a unique path-suffix match among the repo's files.
  jvm     `package` declarations (Java, Kotlin, Scala together), class = file stem; wildcard =
          every file of the package; Kotlin/Scala fall back to the package for top-level members.
  csharp  `using N` -> every file declaring namespace N; `using static`/aliases -> the type's file.
  js/ts   relative specifiers only: exact file, `.js`->`.ts` mapping, extensions, `index` files.
  go      module path from each go.mod, import path -> directory, its non-test `.go` files; vendor/.
  rust    `mod x;` -> x.rs | x/mod.rs; `use crate::/self::/super::/<workspace crate>::` paths.
  ruby    require_relative from the file; require/load from `lib` dirs and the repo root.
  php     include/require literals; `use` via namespace declarations (class = file stem).
  lua     require "a.b" -> a/b.lua | a/b/init.lua; shell: `source` relative paths.
"""
from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from typing import Iterable

from tasks.order.extract import Dep, FileFacts

_JS_EXTS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".d.ts", ".mts", ".cts", ".json")
_TS_EXTS = (".ts", ".tsx", ".d.ts", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs", ".json")
_JS_TO_TS = {".js": (".ts", ".tsx", ".d.ts"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
_JVM = ("java", "kotlin", "scala")
_GO_MODULE = re.compile(r"^\s*module\s+\"?([^\s\"]+)\"?", re.M)
_CARGO_NAME = re.compile(r"^\s*\[package\][^\[]*?^\s*name\s*=\s*\"([^\"]+)\"", re.M | re.S)


def _norm(path: str) -> str | None:
    """Normalised repo-relative path, or None if it leaves the repository."""
    if not path or path.startswith("/"):
        return None
    out = posixpath.normpath(path)
    if out == ".." or out.startswith("../"):
        return None
    return "" if out == "." else out


def _ancestors(directory: str) -> Iterable[str]:
    """`a/b/c` -> `a/b/c`, `a/b`, `a`, `` (the directory itself first)."""
    while directory:
        yield directory
        directory = posixpath.dirname(directory)
    yield ""


def _common_depth(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("/"), b.split("/")):
        if x != y:
            break
        n += 1
    return n


def _closest(origin: str, candidates: Iterable[str]) -> list[str]:
    """Candidates ranked by how much directory they share with `origin`, then by path."""
    return sorted(candidates, key=lambda c: (-_common_depth(origin, c), c))


def _stem(path: str) -> str:
    return posixpath.basename(path).split(".", 1)[0]


class RepoIndex:
    """Everything needed to resolve one repository's statements, built once per repo."""

    def __init__(self, paths: Iterable[str], families: dict[str, str | None],
                 facts: dict[str, FileFacts], texts: dict[str, str] | None = None) -> None:
        """`paths`: every file of the repo; `facts`: extracted files; `texts`: go.mod/Cargo.toml."""
        self.paths = frozenset(paths)
        self.families = families
        self.facts = facts
        texts = texts or {}
        dirs: set[str] = set()
        self.by_basename: dict[str, list[str]] = defaultdict(list)
        for path in sorted(self.paths):
            dirs.update(_ancestors(posixpath.dirname(path)))
            self.by_basename[posixpath.basename(path)].append(path)
        self.include_dirs = sorted(d for d in dirs if posixpath.basename(d) == "include")
        self.lib_dirs = sorted(d for d in dirs if posixpath.basename(d) == "lib")
        self.lua_dirs = sorted(d for d in dirs if posixpath.basename(d) in ("lua", "src", "lib"))
        self._init_python()
        self._init_decls()
        self._init_go(texts)
        self._init_rust(texts)

    # --- indexes -------------------------------------------------------------------------------

    def _init_python(self) -> None:
        py = sorted(p for p in self.paths if self.families.get(p) == "python" and p.endswith((".py", ".pyi")))
        self.py_pkgs = {posixpath.dirname(p) for p in py if _stem(p) == "__init__"} - {""}
        self.py_global_roots = {""}
        for pkg in self.py_pkgs:
            top = pkg
            while posixpath.dirname(top) in self.py_pkgs:
                top = posixpath.dirname(top)
            self.py_global_roots.add(posixpath.dirname(top))
        roots = set(self.py_global_roots) | {self._py_own_root(p) for p in py}
        self.py_index: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for path in py:
            directory = posixpath.dirname(path)
            parts = directory.split("/") if directory else []
            if _stem(path) != "__init__":
                parts = parts + [_stem(path)]
            for root in _ancestors(directory):
                if root not in roots:
                    continue
                rel = parts[len(root.split("/")) if root else 0:]
                if rel and all(part.isidentifier() for part in rel):
                    self.py_index[".".join(rel)].append((path, root))

    def _py_own_root(self, path: str) -> str:
        directory = posixpath.dirname(path)
        while directory and directory in self.py_pkgs:
            directory = posixpath.dirname(directory)
        return directory

    def _init_decls(self) -> None:
        """Package / namespace declarations: JVM (one index for Java, Kotlin, Scala), C#, PHP."""
        self.pkg_files: dict[str, dict[str, list[str]]] = {"jvm": defaultdict(list), "csharp": defaultdict(list),
                                                           "php": defaultdict(list)}
        self.class_files: dict[str, dict[tuple[str, str], list[str]]] = {k: defaultdict(list) for k in self.pkg_files}
        for path in sorted(self.facts):
            fam = self.families.get(path)
            group = "jvm" if fam in _JVM else fam
            if group not in self.pkg_files:
                continue
            decls = self.facts[path].decls or ([""] if group == "jvm" else [])
            for decl in sorted(set(decls)):
                self.pkg_files[group][decl].append(path)
                self.class_files[group][(decl, _stem(path))].append(path)

    def _init_go(self, texts: dict[str, str]) -> None:
        self.go_dirs: dict[str, list[str]] = defaultdict(list)
        for path in sorted(self.paths):
            if path.endswith(".go") and not path.endswith("_test.go"):
                self.go_dirs[posixpath.dirname(path)].append(path)
        self.go_suffix: dict[str, list[str]] = defaultdict(list)
        for directory in sorted(self.go_dirs):
            parts = directory.split("/") if directory else []
            for k in range(len(parts)):
                self.go_suffix["/".join(parts[k:])].append(directory)
        mods = []
        for path, text in texts.items():
            if posixpath.basename(path) == "go.mod":
                match = _GO_MODULE.search(text)
                if match:
                    mods.append((match.group(1), posixpath.dirname(path)))
        self.go_mods = sorted(mods, key=lambda m: (-len(m[0]), m))

    def _init_rust(self, texts: dict[str, str]) -> None:
        self.rust_crates: dict[str, str] = {}
        for path in sorted(self.paths):
            if path.endswith("/lib.rs") and posixpath.basename(posixpath.dirname(path)) == "src":
                src = posixpath.dirname(path)
                top = posixpath.dirname(src)
                match = _CARGO_NAME.search(texts.get(posixpath.join(top, "Cargo.toml") if top else "Cargo.toml", ""))
                name = match.group(1) if match else posixpath.basename(top)
                if name:
                    self.rust_crates.setdefault(name.replace("-", "_"), src)

    # --- dispatch ------------------------------------------------------------------------------

    def resolve(self, path: str, family: str, dep: Dep) -> list[str]:
        """Repo files that statement `dep` of file `path` depends on ([] = external)."""
        handler = getattr(self, f"_resolve_{family}", None)
        if handler is None:
            return []
        return sorted(set(handler(path, dep)))

    def _first(self, candidates: Iterable[str | None]) -> list[str]:
        for cand in candidates:
            if cand is not None and cand in self.paths:
                return [cand]
        return []

    # --- python --------------------------------------------------------------------------------

    def _py_lookup(self, path: str, name: str) -> str | None:
        own = self._py_own_root(path)
        cands = [(p, r) for p, r in self.py_index.get(name, ()) if r == own or r in self.py_global_roots]
        if not cands:
            return None
        origin = posixpath.dirname(path)
        return min(cands, key=lambda c: (c[1] != own, c[0].endswith(".pyi"), -_common_depth(origin, c[0]), c[0]))[0]

    def _py_longest(self, path: str, dotted: str) -> str | None:
        parts = dotted.split(".")
        for k in range(len(parts), 0, -1):
            found = self._py_lookup(path, ".".join(parts[:k]))
            if found:
                return found
        return None

    def _py_module_at(self, base: str) -> str | None:
        if base:
            cands: list[str | None] = [base + ".py", base + "/__init__.py", base + ".pyi", base + "/__init__.pyi"]
        else:
            cands = []
        found = self._first(cands)
        return found[0] if found else None

    def _resolve_python(self, path: str, dep: Dep) -> list[str]:
        if dep[0] == "import":
            found = self._py_longest(path, dep[1])
            return [found] if found else []
        _, level, dotted, names = dep
        out: list[str] = []
        if level == 0:
            rest = False
            for name in names:
                sub = self._py_lookup(path, f"{dotted}.{name}") if name != "*" else None
                if sub:
                    out.append(sub)
                else:
                    rest = True
            if rest or not names:
                found = self._py_longest(path, dotted)
                if found:
                    out.append(found)
            return out
        pkg = posixpath.dirname(path)
        for _ in range(level - 1):
            if not pkg:
                return []
            pkg = posixpath.dirname(pkg)
        base = posixpath.join(pkg, *dotted.split(".")) if dotted else pkg
        rest = not names
        for name in names:
            sub = self._py_module_at(posixpath.join(base, name)) if name != "*" else None
            if sub:
                out.append(sub)
            else:
                rest = True
        if rest:
            found = self._py_module_at(base)
            if found:
                out.append(found)
        return out

    # --- c / c++ -------------------------------------------------------------------------------

    def _resolve_c(self, path: str, dep: Dep) -> list[str]:
        if dep[0] != "include":
            return []
        spec = dep[1].strip().replace("\\", "/")
        origin = posixpath.dirname(path)
        bases = [origin] + _closest(origin, self.include_dirs) + [""]
        found = self._first(_norm(posixpath.join(base, spec)) for base in bases)
        if found:
            return found
        clean = _norm(spec)
        if clean is None:
            return []
        matches = [p for p in self.by_basename.get(posixpath.basename(clean), ())
                   if p == clean or p.endswith("/" + clean)]
        return matches if len(matches) == 1 else []

    _resolve_cpp = _resolve_c

    # --- jvm -----------------------------------------------------------------------------------

    def _jvm_class(self, group: str, dotted: str) -> list[str]:
        parts = dotted.split(".")
        for k in range(len(parts) - 1, -1, -1):
            files = self.class_files[group].get((".".join(parts[:k]), parts[k]))
            if files:
                return files
        return []

    def _resolve_java(self, path: str, dep: Dep) -> list[str]:
        _, name, wildcard, static = dep
        pkgs = self.pkg_files["jvm"]
        if wildcard and not static:
            return pkgs.get(name) or self._jvm_class("jvm", name)
        target = name.rsplit(".", 1)[0] if static and not wildcard and "." in name else name
        found = self._jvm_class("jvm", target)
        if not found and self.families.get(path) in ("kotlin", "scala") and "." in target:
            found = pkgs.get(target.rsplit(".", 1)[0], [])  # top-level function / object member
        return found

    _resolve_kotlin = _resolve_java
    _resolve_scala = _resolve_java

    # --- c# ------------------------------------------------------------------------------------

    def _resolve_csharp(self, path: str, dep: Dep) -> list[str]:
        _, name, kind = dep
        namespaces = self.pkg_files["csharp"]
        if name in namespaces:
            return namespaces[name]
        if kind == "ns" or "." not in name:
            return []
        parent, cls = name.rsplit(".", 1)
        return self.class_files["csharp"].get((parent, cls)) or namespaces.get(parent, [])

    # --- javascript / typescript -----------------------------------------------------------------

    def _resolve_javascript(self, path: str, dep: Dep) -> list[str]:
        spec = dep[1].split("?", 1)[0].split("#", 1)[0]
        if not (spec in (".", "..") or spec.startswith(("./", "../"))):
            return []
        base = _norm(posixpath.join(posixpath.dirname(path), spec))
        if base is None:
            return []
        exts = _TS_EXTS if self.families.get(path) == "typescript" else _JS_EXTS
        cands: list[str | None] = [base] if base else []
        stem, ext = posixpath.splitext(base)
        cands += [stem + alt for alt in _JS_TO_TS.get(ext, ())]
        if base:
            cands += [base + e for e in exts]
        cands += [posixpath.join(base, "index") + e for e in exts]
        return self._first(c for c in cands if c != path)

    _resolve_typescript = _resolve_javascript

    # --- go ------------------------------------------------------------------------------------

    def _resolve_go(self, path: str, dep: Dep) -> list[str]:
        imp = dep[1].strip("/")
        for module, directory in self.go_mods:
            if imp == module or imp.startswith(module + "/"):
                rel = imp[len(module):].lstrip("/")
                for cand in (posixpath.join(directory, rel), posixpath.join(directory, "vendor", imp)):
                    cand = _norm(cand) if cand else ""
                    if cand is not None and cand in self.go_dirs:
                        return self.go_dirs[cand]
                return []
        if "vendor/" + imp in self.go_dirs:
            return self.go_dirs["vendor/" + imp]
        parts = imp.split("/")
        if self.go_mods or "." not in parts[0]:
            return []  # standard library, or outside every module of the repo
        for k in range(len(parts)):
            dirs = self.go_suffix.get("/".join(parts[k:]), [])
            if len(dirs) == 1:
                return self.go_dirs[dirs[0]]
            if dirs:
                return []
        return []

    # --- rust ----------------------------------------------------------------------------------

    def _rust_src(self, path: str) -> str | None:
        for directory in _ancestors(posixpath.dirname(path)):
            if posixpath.basename(directory) == "src":
                return directory
        return None

    def _rust_is_root(self, path: str, src: str | None) -> bool:
        base = posixpath.basename(path)
        return (src is None or base in ("lib.rs", "main.rs", "mod.rs", "build.rs")
                or posixpath.dirname(path) == posixpath.join(src, "bin"))

    def _rust_module(self, path: str, src: str | None) -> list[str]:
        """Module path of a file inside its crate (`src/a/b.rs` -> [a, b])."""
        if src is None or posixpath.dirname(path) == posixpath.join(src, "bin"):
            return []
        parts = path[len(src) + 1:-3].split("/")
        if parts[-1] == "mod":
            parts = parts[:-1]
        if parts in (["lib"], ["main"]):
            parts = []
        return parts

    def _rust_in_crate(self, crate_dir: str, segs: list[str]) -> list[str]:
        for k in range(len(segs), 0, -1):
            base = posixpath.join(crate_dir, *segs[:k])
            found = self._first([base + ".rs", base + "/mod.rs"])
            if found:
                return found
        return self._first([posixpath.join(crate_dir, "lib.rs"), posixpath.join(crate_dir, "main.rs")])

    def _resolve_rust(self, path: str, dep: Dep) -> list[str]:
        src = self._rust_src(path)
        if dep[0] == "mod":
            directory = posixpath.dirname(path) if self._rust_is_root(path, src) else path[:-3]
            base = posixpath.join(directory, *dep[1])
            return self._first([base + ".rs", base + "/mod.rs"])
        segs = list(dep[1])
        crate_dir = src if src is not None else posixpath.dirname(path)
        here = self._rust_module(path, src)
        head = segs[0]
        if head == "crate":
            return self._rust_in_crate(crate_dir, segs[1:])
        if head in ("self", "super"):
            base = list(here)
            while segs and segs[0] in ("self", "super"):
                if segs.pop(0) == "super":
                    if not base:
                        return []
                    base.pop()
            return self._rust_in_crate(crate_dir, base + segs)
        if head in self.rust_crates and self.rust_crates[head] != src:
            return self._rust_in_crate(self.rust_crates[head], segs[1:])
        child = posixpath.join(crate_dir, *here, head)
        if self._first([child + ".rs", child + "/mod.rs"]):
            return self._rust_in_crate(crate_dir, here + segs)  # 2018 uniform path to a child module
        return []

    # --- ruby / php / lua / shell -----------------------------------------------------------------

    def _resolve_ruby(self, path: str, dep: Dep) -> list[str]:
        kind, spec = dep
        suffix = "" if spec.endswith(".rb") else ".rb"
        origin = posixpath.dirname(path)
        if kind == "require_relative" or spec.startswith(("./", "../")):
            return self._first([_norm(posixpath.join(origin, spec + suffix))])
        bases = _closest(origin, self.lib_dirs) + [""]
        return self._first(_norm(posixpath.join(base, spec + suffix)) for base in bases)

    def _resolve_php(self, path: str, dep: Dep) -> list[str]:
        origin = posixpath.dirname(path)
        if dep[0] == "include":
            _, spec, dir_relative = dep
            bases = [origin] if dir_relative else [origin, ""]
            return self._first(_norm(posixpath.join(base, spec)) for base in bases)
        if dep[0] != "use":
            return []
        _, name, kind = dep
        namespace, _, cls = name.rpartition("\\")
        if kind == "class":
            found = self.class_files["php"].get((namespace, cls)) or self.pkg_files["php"].get(name)
            return found or []
        return self.pkg_files["php"].get(namespace, [])

    def _resolve_lua(self, path: str, dep: Dep) -> list[str]:
        rel = dep[1].replace(".", "/")
        origin = posixpath.dirname(path)
        bases = [origin, ""] + _closest(origin, self.lua_dirs)
        return self._first(_norm(posixpath.join(base, rel + tail)) for base in bases for tail in (".lua", "/init.lua"))

    def _resolve_shell(self, path: str, dep: Dep) -> list[str]:
        spec = dep[1]
        if spec.startswith(("$", "~")):
            if "/" not in spec:
                return []
            spec = spec.split("/", 1)[1]
        origin = posixpath.dirname(path)
        return self._first(_norm(posixpath.join(base, spec)) for base in (origin, ""))
