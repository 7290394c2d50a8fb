"""C / C++ quoted includes: relative, include dirs, unique suffix; <system> includes are external."""
from __future__ import annotations

from order_testkit import lang_stats, run, sample_of


def test_c_relative_and_include_dir():
    samples, stats = run({
        "include/mylib/core.h": "#pragma once\nint core(void);\n",
        "include/mylib/api.h": '#include "core.h"\n',
        "src/api.c": '#include "mylib/api.h"\n#include <stdio.h>\n#include "internal.h"\n',
        "src/internal.h": '#include "mylib/core.h"\n',
        "src/main.c": '#include "api_wrapper.h"\n',
    }, lang="C")
    assert sample_of(samples, "src/api.c") == [
        "include/mylib/core.h", "include/mylib/api.h", "src/internal.h", "src/api.c"]
    assert ["src/main.c"] in samples
    c = lang_stats(stats, "C")
    assert (c["deps_found"], c["deps_resolved"], c["deps_external"]) == (6, 4, 2)


def test_unique_suffix_resolves_ambiguous_does_not():
    samples, stats = run({
        "third/lib/deep/thing.h": "",
        "src/x.c": '#include "deep/thing.h"\n',
        "a/util.h": "",
        "b/util.h": "",
        "c/y.c": '#include "util.h"\n',
    }, lang="C")
    assert sample_of(samples, "src/x.c") == ["third/lib/deep/thing.h", "src/x.c"]
    assert ["c/y.c"] in samples
    assert lang_stats(stats, "C")["deps_external"] == 1


def test_cpp_headers_and_parent_relative_include():
    samples, _ = run({
        "src/shapes/shape.hpp": "struct Shape {};\n",
        "src/shapes/circle.hpp": '#include "shape.hpp"\nstruct Circle : Shape {};\n',
        "src/app/main.cpp": '#include "../shapes/circle.hpp"\n#include <vector>\nint main() {}\n',
    }, lang="C++")
    assert samples == [["src/shapes/shape.hpp", "src/shapes/circle.hpp", "src/app/main.cpp"]]


def test_include_escaping_repo_is_external():
    samples, stats = run({"main.c": '#include "../outside.h"\n', "outside.h": ""}, lang="C")
    assert ["main.c"] in samples and ["outside.h"] in samples
    assert lang_stats(stats, "C")["deps_external"] == 1
