import pytest

from tasks.quality import languages
from tasks.quality.syntax import check_error_share, check_python_compile, error_share

GOOD = {
    "python": "import os\n\n\ndef f(x):\n    return [i * 2 for i in range(x)]\n",
    "java": "class A {\n  int f(int x) { return x + 1; }\n}\n",
    "c": "#include <stdio.h>\nint main(void) {\n  printf(\"hi\\n\");\n  return 0;\n}\n",
    "cpp": "#include <vector>\nstd::vector<int> f() { return {1, 2}; }\n",
    "c#": "class A { int F(int x) { return x + 1; } }\n",
    "javascript": "const f = (x) => x + 1;\nfunction g() { return f(2); }\n",
    "typescript": "function f(x: number): number { return x + 1; }\n",
    "go": "package main\n\nfunc main() {\n\tx := 1\n\t_ = x\n}\n",
    "rust": "fn main() {\n    let x: i32 = 1;\n    println!(\"{}\", x);\n}\n",
}
PROSE = ("This is not code at all. It is a paragraph of English prose that somebody saved with the\n"
         "wrong extension; the parser should fail on most of it, whatever the grammar is, because\n"
         "sentences are not statements: they have commas, apostrophes (it's) and full stops.\n") * 3


@pytest.mark.parametrize("lang", sorted(GOOD))
def test_grammar_accepts_good_code_and_rejects_prose(lang):
    key = languages.grammar_key(lang)
    assert key is not None and languages.grammar(key) is not None
    parser = languages.parser(key)
    good = GOOD[lang].encode()
    assert error_share(parser.parse(good), good) == 0.0
    bad = PROSE.encode()
    share = error_share(parser.parse(bad), bad)
    assert share > 0.2
    assert check_error_share(parser.parse(bad), bad, key, 0.2).reason == "syntax_error"


def test_unknown_language_has_no_grammar():
    assert languages.grammar_key("cobol") is None
    assert languages.grammar_key(None) is None
    assert languages.grammar_key("TypeScript", "src/App.tsx") == "tsx"


def test_one_bad_line_in_a_long_file_stays_under_the_threshold():
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40))
    data = (body + "def broken(:\n    pass\n").encode()
    tree = languages.parser("python").parse(data)
    share = error_share(tree, data)
    assert 0 < share < 0.05


def test_c_file_failing_as_c_gets_a_second_chance_as_cpp():
    data = (b"namespace ns {\ntemplate <typename T> class Box { public: T v; };\n}\n"
            b"auto f = [&](auto x) -> int { return x; };\nstd::vector<std::pair<int, int>> v{{1, 2}};\n") * 5
    c_tree = languages.parser("c").parse(data)
    c_share = error_share(c_tree, data)
    cpp_share = error_share(languages.parser("cpp").parse(data), data)
    assert cpp_share == 0.0 < c_share
    threshold = c_share / 2
    reparse = lambda key, d: languages.parser(key).parse(d)  # noqa: E731
    assert check_error_share(c_tree, data, "c", threshold, reparse) is None
    assert check_error_share(c_tree, data, "c", threshold, None).reason == "syntax_error"


def test_python_compile_reports_syntax_and_python2_separately():
    assert check_python_compile(GOOD["python"], "a.py") is None
    broken = check_python_compile("def f(:\n    pass\n", "a.py")
    assert broken.reason == "syntax_python" and "line 1" in broken.detail
    for py2 in ("print 'hello'\n", "try:\n    x = 1\nexcept ValueError, e:\n    pass\n", "x = 0777\n"):
        assert check_python_compile(py2, "old.py").reason == "python2", py2
    assert check_python_compile("x = 1\0\n", "nul.py").reason == "syntax_python"


def test_compile_never_executes(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit(3)\n"
    assert check_python_compile(source, "evil.py") is None
    assert not marker.exists()
