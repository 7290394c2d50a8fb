from __future__ import annotations

import pytest

from tasks.crawl import languages as L

# The DeepSeek-Coder README / StarCoder list, written out independently of the module's table.
PAPER_LIST = """Ada Agda Alloy ANTLR AppleScript Assembly Augeas AWK Batchfile Bluespec C C# Clojure CMake
CoffeeScript |Common Lisp| C++ CSS CUDA Dart Dockerfile Elixir Elm |Emacs Lisp| Erlang F# Fortran GLSL Go
Groovy Haskell HTML Idris Isabelle Java |Java Server Pages| JavaScript JSON Julia |Jupyter Notebook| Kotlin
Lean |Literate Agda| |Literate CoffeeScript| |Literate Haskell| Lua Makefile Maple Markdown Mathematica
MATLAB OCaml Pascal Perl PHP PowerShell Prolog |Protocol Buffer| Python R Racket RMarkdown reStructuredText
Ruby Rust SAS Scala Scheme Shell Smalltalk Solidity SPARQL SQL Stan |Standard ML| Stata SystemVerilog TCL
Tcsh TeX Thrift TypeScript Verilog VHDL |Visual Basic| XSLT Yacc YAML Zig"""


def _paper_names() -> set[str]:
    names, rest = [], PAPER_LIST.replace("\n", " ")
    while rest.strip():
        rest = rest.strip()
        if rest.startswith("|"):
            end = rest.index("|", 1)
            names.append(rest[1:end])
            rest = rest[end + 1:]
        else:
            word, _, rest = rest.partition(" ")
            names.append(word)
    return set(names)


def test_table_is_exactly_the_listed_languages():
    assert L.SUPPORTED_LANGUAGES == _paper_names()
    assert len(L.SUPPORTED_LANGUAGES) == 89 == len(L.LANGUAGES)


def test_every_language_is_detectable_and_has_a_comment_form():
    for lang in L.LANGUAGES:
        assert lang.extensions or lang.filenames, lang.name
        probe = lang.filenames[0] if lang.filenames else "dir/file" + lang.extensions[0]
        detected = L.detect_language(probe)
        # an extension given away deliberately to another language is the only allowed exception
        assert detected == lang.name or probe.rsplit(".", 1)[-1] in {k[1:] for k in L._RESOLVED}, probe
        prefix, suffix = L.comment_syntax(lang.name)
        assert prefix.strip(), lang.name
        assert (suffix == "") or suffix.strip(), lang.name


def test_no_extension_or_file_name_maps_to_two_languages():
    seen_ext: dict[str, str] = {}
    seen_name: dict[str, str] = {}
    for lang in L.LANGUAGES:
        for ext in lang.extensions:
            assert ext not in seen_ext, (ext, seen_ext.get(ext), lang.name)
            seen_ext[ext] = lang.name
        for name in lang.filenames:
            assert name not in seen_name, (name, seen_name.get(name), lang.name)
            seen_name[name] = lang.name


@pytest.mark.parametrize("path,lang", [
    ("src/pkg/__init__.py", "Python"),
    ("lib/index.d.ts", "TypeScript"),
    ("a/b/Component.tsx", "TypeScript"),
    ("x.js", "JavaScript"),
    ("include/foo.h", "C"),
    ("include/foo.hpp", "C++"),
    ("kernel.cu", "CUDA"),
    ("Makefile", "Makefile"),
    ("sub/GNUmakefile", "Makefile"),
    ("Makefile.am", "Makefile"),
    ("Dockerfile", "Dockerfile"),
    ("docker/Dockerfile.dev", "Dockerfile"),
    ("CMakeLists.txt", "CMake"),
    ("cmake/FindFoo.cmake", "CMake"),
    ("docs/index.rst", "reStructuredText"),
    ("README.md", "Markdown"),
    ("README.MD", "Markdown"),
    ("notes.Rmd", "RMarkdown"),
    ("analysis.R", "R"),
    ("src/main.rs", "Rust"),
    ("start.S", "Assembly"),
    ("Main.lhs", "Literate Haskell"),
    ("doc.coffee.md", "Literate CoffeeScript"),
    ("app.coffee", "CoffeeScript"),
    ("script.m", "MATLAB"),
    ("tool.pl", "Perl"),
    ("rules.pro", "Prolog"),
    ("fft.f90", "Fortran"),
    ("style.css", "CSS"),
    ("schema.proto", "Protocol Buffer"),
    ("Rakefile", "Ruby"),
    (".travis.yml", "YAML"),
    ("package.json", "JSON"),
    ("page.jsp", "Java Server Pages"),
])
def test_key_examples(path: str, lang: str):
    assert L.detect_language(path) == lang


@pytest.mark.parametrize("path", ["LICENSE", "README", ".gitignore", "a/b/c", "dist/x.tar.gz", "img.png",
                                  "setup.cfg", "x.pyc", "", "dir/", "mod.pyx"])
def test_unknown_files(path: str):
    assert L.detect_language(path) is None


def test_comment_syntax_examples():
    assert L.comment_syntax("Python") == ("# ", "")
    assert L.comment_syntax("C++") == ("// ", "")
    assert L.comment_syntax("HTML") == ("<!-- ", " -->")
    assert L.comment_syntax("OCaml") == ("(* ", " *)")
    assert L.comment_syntax("Haskell") == ("-- ", "")
    with pytest.raises(KeyError):
        L.comment_syntax("Brainfuck")
