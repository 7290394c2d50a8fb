"""render_sample: path headers in each file's own comment syntax, files joined by a newline."""
from __future__ import annotations

import pytest

from tasks.order.render import comment_markers, render_sample


def test_headers_follow_each_language():
    text = render_sample(["a.py", "b/c.h", "d.md"], ["Python", "C", "Markdown"], ["x = 1\n", "int f();\n", "# T\n"])
    assert text == "# a.py\nx = 1\n\n// b/c.h\nint f();\n\n<!-- d.md -->\n# T\n"


def test_uses_crawl_comment_syntax_when_available():
    languages = pytest.importorskip("tasks.crawl.languages")
    for lang in ("Python", "Lua", "CSS", "HTML", "Haskell"):
        assert comment_markers(lang) == tuple(languages.comment_syntax(lang))


def test_unknown_language_falls_back_by_extension_then_hash():
    assert render_sample(["x.rs"], [None], ["fn main() {}"]) == "// x.rs\nfn main() {}"
    assert render_sample(["notes.weird"], [None], ["hi"]) == "# notes.weird\nhi"


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        render_sample(["a.py"], ["Python", "C"], ["x"])


def test_empty_sample_is_empty_text():
    assert render_sample([], [], []) == ""
