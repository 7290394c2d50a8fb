"""The language table: which files the corpus keeps as code, and how each language writes a comment.

Source of the list: the "Supported Programming Languages" list of the DeepSeek-Coder README
(github.com/deepseek-ai/DeepSeek-Coder, the model card of arXiv 2401.14196), which is the StarCoder
data's language set (bigcode/starcoderdata directories, the-stack Linguist names). That list has 89
names, while the paper's text and Table 1 speak of 87 languages; the table itself could not be
checked line by line here (no copy of it was reachable), so the 89-name README list is kept whole:
dropping two names on a guess would lose data the paper may well have used.

Extensions and file names follow GitHub Linguist, the source the Stack used, with a few deliberate
choices where Linguist maps one extension to several languages (see `_RESOLVED`): a table where one
extension means two languages would make `detect_language` depend on dict order.

`comment_syntax` gives the line-comment form the order stage uses to head every file with its path,
so a sample stays valid-looking code in the file's own language.
"""
from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    name: str
    extensions: tuple[str, ...]  # lower-case, with the dot; compound ones like ".coffee.md" allowed
    filenames: tuple[str, ...] = ()  # exact base names (case-sensitive), e.g. "Makefile"
    comment: tuple[str, str] = ("# ", "")


_HASH = ("# ", "")
_SLASH = ("// ", "")
_DASH = ("-- ", "")
_SEMI = ("; ", "")
_PCT = ("% ", "")
_ML = ("(* ", " *)")
_XML = ("<!-- ", " -->")
_CBLOCK = ("/* ", " */")

LANGUAGES: tuple[Language, ...] = (
    Language("Ada", (".adb", ".ads", ".ada"), comment=_DASH),
    Language("Agda", (".agda",), comment=_DASH),
    Language("Alloy", (".als",), comment=_SLASH),
    Language("ANTLR", (".g4", ".g"), comment=_SLASH),
    Language("AppleScript", (".applescript",), comment=_DASH),
    Language("Assembly", (".asm", ".s", ".nasm"), comment=_SEMI),
    Language("Augeas", (".aug",), comment=_ML),
    Language("AWK", (".awk", ".gawk", ".mawk", ".nawk"), comment=_HASH),
    Language("Batchfile", (".bat", ".cmd"), comment=("REM ", "")),
    Language("Bluespec", (".bsv",), comment=_SLASH),
    Language("C", (".c", ".h"), comment=_SLASH),
    Language("C#", (".cs", ".csx"), comment=_SLASH),
    Language("Clojure", (".clj", ".cljs", ".cljc", ".edn"), comment=_SEMI),
    Language("CMake", (".cmake",), ("CMakeLists.txt",), comment=_HASH),
    Language("CoffeeScript", (".coffee", ".cake"), ("Cakefile",), comment=_HASH),
    Language("Common Lisp", (".lisp", ".lsp", ".cl", ".asd"), comment=_SEMI),
    Language("C++", (".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++", ".ipp", ".tpp",
                     ".inl", ".tcc"), comment=_SLASH),
    Language("CSS", (".css",), comment=_CBLOCK),
    Language("CUDA", (".cu", ".cuh"), comment=_SLASH),
    Language("Dart", (".dart",), comment=_SLASH),
    Language("Dockerfile", (".dockerfile",), ("Dockerfile", "Containerfile"), comment=_HASH),
    Language("Elixir", (".ex", ".exs"), comment=_HASH),
    Language("Elm", (".elm",), comment=_DASH),
    Language("Emacs Lisp", (".el",), (".emacs", "_emacs"), comment=_SEMI),
    Language("Erlang", (".erl", ".hrl"), ("rebar.config",), comment=_PCT),
    Language("F#", (".fs", ".fsi", ".fsx"), comment=_SLASH),
    Language("Fortran", (".f", ".f90", ".f95", ".f03", ".f08", ".for", ".f77", ".fpp", ".ftn"),
             comment=("! ", "")),
    Language("GLSL", (".glsl", ".vert", ".frag", ".geom", ".comp", ".tesc", ".tese", ".vsh", ".fsh"),
             comment=_SLASH),
    Language("Go", (".go",), comment=_SLASH),
    Language("Groovy", (".groovy", ".gradle", ".gvy"), ("Jenkinsfile",), comment=_SLASH),
    Language("Haskell", (".hs", ".hs-boot", ".hsc"), comment=_DASH),
    Language("HTML", (".html", ".htm", ".xhtml"), comment=_XML),
    Language("Idris", (".idr",), comment=_DASH),
    Language("Isabelle", (".thy",), comment=_ML),
    Language("Java", (".java",), comment=_SLASH),
    Language("Java Server Pages", (".jsp",), comment=("<%-- ", " --%>")),
    Language("JavaScript", (".js", ".mjs", ".cjs", ".jsx"), comment=_SLASH),
    # JSON has no comment syntax; '//' is what JSONC/JSON5 tools accept, and the model sees the path.
    Language("JSON", (".json", ".geojson", ".jsonl", ".webmanifest"), (".babelrc", ".eslintrc"),
             comment=_SLASH),
    Language("Julia", (".jl",), comment=_HASH),
    Language("Jupyter Notebook", (".ipynb",), comment=_SLASH),
    Language("Kotlin", (".kt", ".kts"), comment=_SLASH),
    Language("Lean", (".lean",), comment=_DASH),
    Language("Literate Agda", (".lagda",), comment=_PCT),
    Language("Literate CoffeeScript", (".litcoffee", ".coffee.md"), comment=_XML),
    Language("Literate Haskell", (".lhs",), comment=_DASH),
    Language("Lua", (".lua",), comment=_DASH),
    Language("Makefile", (".mk", ".mak", ".make"), ("Makefile", "makefile", "GNUmakefile", "Kbuild"),
             comment=_HASH),
    Language("Maple", (".mpl", ".maple"), comment=_HASH),
    Language("Markdown", (".md", ".markdown", ".mdown", ".mkd", ".mkdn"), comment=_XML),
    Language("Mathematica", (".nb", ".wl", ".wls", ".mt"), comment=_ML),
    Language("MATLAB", (".m",), comment=_PCT),
    Language("OCaml", (".ml", ".mli", ".mll", ".mly"), comment=_ML),
    Language("Pascal", (".pas", ".pp", ".dpr", ".lpr"), comment=_SLASH),
    Language("Perl", (".pl", ".pm", ".t", ".perl"), comment=_HASH),
    Language("PHP", (".php", ".phtml", ".php3", ".php4", ".php5"), comment=_SLASH),
    Language("PowerShell", (".ps1", ".psm1", ".psd1"), comment=_HASH),
    Language("Prolog", (".pro", ".prolog"), comment=_PCT),
    Language("Protocol Buffer", (".proto",), comment=_SLASH),
    Language("Python", (".py", ".pyi", ".pyw", ".py3", ".gyp", ".gypi", ".wsgi"),
             ("SConstruct", "SConscript", "BUILD.bazel", "WORKSPACE"), comment=_HASH),
    Language("R", (".r", ".rsx"), (".Rprofile",), comment=_HASH),
    Language("Racket", (".rkt", ".rktl"), comment=_SEMI),
    Language("RMarkdown", (".rmd",), comment=_XML),
    Language("reStructuredText", (".rst", ".rest"), comment=(".. ", "")),
    Language("Ruby", (".rb", ".rake", ".gemspec", ".ru"), ("Rakefile", "Gemfile", "Vagrantfile"),
             comment=_HASH),
    Language("Rust", (".rs",), comment=_SLASH),
    Language("SAS", (".sas",), comment=_CBLOCK),
    Language("Scala", (".scala", ".sc", ".sbt"), comment=_SLASH),
    Language("Scheme", (".scm", ".ss", ".sld", ".sls"), comment=_SEMI),
    Language("Shell", (".sh", ".bash", ".zsh", ".ksh"), (".bashrc", ".bash_profile", ".zshrc", ".profile"),
             comment=_HASH),
    Language("Smalltalk", (".st",), comment=('"', '"')),
    Language("Solidity", (".sol",), comment=_SLASH),
    Language("SPARQL", (".sparql", ".rq"), comment=_HASH),
    Language("SQL", (".sql",), comment=_DASH),
    Language("Stan", (".stan",), comment=_SLASH),
    Language("Standard ML", (".sml", ".sig", ".fun"), comment=_ML),
    Language("Stata", (".do", ".ado", ".doh"), comment=_SLASH),
    Language("SystemVerilog", (".sv", ".svh"), comment=_SLASH),
    Language("TCL", (".tcl", ".tk", ".itcl"), comment=_HASH),
    Language("Tcsh", (".tcsh", ".csh"), comment=_HASH),
    Language("TeX", (".tex", ".sty", ".cls", ".dtx", ".ins", ".ltx"), comment=_PCT),
    Language("Thrift", (".thrift",), comment=_SLASH),
    Language("TypeScript", (".ts", ".tsx", ".mts", ".cts"), comment=_SLASH),
    Language("Verilog", (".v", ".vh"), comment=_SLASH),
    Language("VHDL", (".vhd", ".vhdl"), comment=_DASH),
    Language("Visual Basic", (".vb", ".vbs", ".bas"), comment=("' ", "")),
    Language("XSLT", (".xsl", ".xslt"), comment=_XML),
    Language("Yacc", (".y", ".yacc", ".yy"), comment=_CBLOCK),
    Language("YAML", (".yml", ".yaml"), (".clang-format", ".clang-tidy"), comment=_HASH),
    Language("Zig", (".zig",), comment=_SLASH),
)

# Extensions Linguist gives to several listed languages, and the one kept here (and why).
_RESOLVED: dict[str, tuple[str, str]] = {
    ".m": ("MATLAB", "also Mathematica/Objective-C; Objective-C is not listed, MATLAB files dominate"),
    ".pl": ("Perl", "also Prolog; Prolog keeps .pro/.prolog"),
    ".h": ("C", "also C++; C++ headers usually use .hpp/.hh"),
    ".cl": ("Common Lisp", "also OpenCL (not listed)"),
    ".v": ("Verilog", "also Coq (not listed)"),
    ".fs": ("F#", "also GLSL fragment shaders; GLSL keeps .frag/.fsh"),
    ".t": ("Perl", "Perl test files; also Turing/Terra (not listed)"),
    ".pro": ("Prolog", "also IDL/QMake project files (not listed)"),
    ".st": ("Smalltalk", "also StringTemplate (not listed)"),
    ".do": ("Stata", "the only listed user"),
}

# Base-name patterns for families of names (Dockerfile.dev, Makefile.am, ...), checked after exact names.
FILENAME_PATTERNS: tuple[tuple[str, str], ...] = (
    ("Dockerfile.*", "Dockerfile"),
    ("*.Dockerfile", "Dockerfile"),
    ("Makefile.*", "Makefile"),
    ("makefile.*", "Makefile"),
)

LANGUAGE_BY_NAME: dict[str, Language] = {lang.name: lang for lang in LANGUAGES}
SUPPORTED_LANGUAGES: frozenset[str] = frozenset(LANGUAGE_BY_NAME)


def _build_maps() -> tuple[dict[str, str], dict[str, str]]:
    by_ext: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for lang in LANGUAGES:
        for ext in lang.extensions:
            if ext != ext.lower() or not ext.startswith("."):
                raise AssertionError(f"extension {ext!r} of {lang.name} must be lower-case with a dot")
            if ext in by_ext:
                raise AssertionError(f"extension {ext} mapped to {by_ext[ext]} and {lang.name}")
            by_ext[ext] = lang.name
        for fname in lang.filenames:
            if fname in by_name:
                raise AssertionError(f"file name {fname} mapped to {by_name[fname]} and {lang.name}")
            by_name[fname] = lang.name
    for ext, (name, _why) in _RESOLVED.items():
        if by_ext.get(ext) != name:
            raise AssertionError(f"resolved extension {ext} should map to {name}")
    return by_ext, by_name


EXTENSION_MAP, FILENAME_MAP = _build_maps()
_COMPOUND = sorted((e for e in EXTENSION_MAP if e.count(".") > 1), key=len, reverse=True)


def detect_language(path: str) -> str | None:
    """Language of a file from its name: exact file name, name pattern, then extension (longest first)."""
    base = posixpath.basename(path)
    if not base:
        return None
    if base in FILENAME_MAP:
        return FILENAME_MAP[base]
    for pattern, name in FILENAME_PATTERNS:
        if fnmatch.fnmatchcase(base, pattern):
            return name
    lower = base.lower()
    for ext in _COMPOUND:
        if lower.endswith(ext) and len(lower) > len(ext):
            return EXTENSION_MAP[ext]
    dot = lower.rfind(".")
    if dot <= 0:  # no extension, or a dotfile like ".gitignore" that is not a known file name
        return None
    return EXTENSION_MAP.get(lower[dot:])


def comment_syntax(lang: str) -> tuple[str, str]:
    """(prefix, suffix) that make one line a comment in `lang`; KeyError for an unknown language."""
    return LANGUAGE_BY_NAME[lang].comment
