"""Reading answers (sections, code blocks) and checking code (compile for Python, tree-sitter for others)."""
from __future__ import annotations

from tasks.oss_instruct import build_messages, check_code, parse_answer
from tasks.oss_instruct.parse import code_blocks, code_for, normalise_fences
from tests.support.openai_server import well_formed


def test_plain_sections() -> None:
    a = parse_answer(well_formed(tests="assert add(1, 2) == 3"))
    assert a is not None
    assert a.problem.startswith("Write a function `add(a, b)`")
    assert a.solution.startswith("```python\ndef add") and a.solution.endswith("```")
    assert a.tests == "```python\nassert add(1, 2) == 3\n```"


def test_decorated_markers_and_text_on_the_marker_line() -> None:
    text = ("Sure! Here it is.\n\n## **[Problem Description]**\nReverse a string.\n\n"
            "**[Solution]**: Use slicing.\n```py\ndef rev(s):\n    return s[::-1]\n```\n")
    a = parse_answer(text)
    assert a is not None and a.problem == "Reverse a string." and a.solution.startswith("Use slicing.")
    assert a.tests is None
    assert [b.code for b in code_for(a.solution, "Python")] == ["def rev(s):\n    return s[::-1]"]


def test_missing_or_empty_sections() -> None:
    assert parse_answer("Here is a function:\n```python\ndef f(): pass\n```") is None
    assert parse_answer("[Problem Description]\nDo X.\n") is None
    assert parse_answer("[Problem Description]\n\n[Solution]\n```python\nx = 1\n```") is None


def test_markers_inside_code_do_not_split() -> None:
    text = well_formed(code='HEADER = """\n[Tests]\n"""\nprint(HEADER)')
    a = parse_answer(text)
    assert a is not None and a.tests is None and "[Tests]" in a.solution


def test_code_blocks_tags_and_unclosed_fences() -> None:
    text = "x\n```cpp\nint a;\n```\n~~~\nplain\n~~~\n````rust\nfn f() {}\n"
    blocks = code_blocks(text)
    assert [(b.tag, b.code, b.closed) for b in blocks] == [("cpp", "int a;", True), ("", "plain", True),
                                                          ("rust", "fn f() {}\n", False)]
    assert [b.code for b in code_for(text, "C++")] == ["int a;", "plain"]


def test_fences_normalised_to_the_language_tag() -> None:
    text = "Use this:\n```\necho hi\n```\nand\n```sh\nls\n```\n```python\nprint(1)\n```"
    out = normalise_fences(text, "Shell")
    assert out == "Use this:\n```bash\necho hi\n```\nand\n```bash\nls\n```\n```python\nprint(1)\n```"


def test_check_code_per_language() -> None:
    assert check_code("def f(x):\n    return x\n", "Python", 0.1).status == "ok"
    bad = check_code("def f(x)\n    return x\n", "Python", 0.1)
    assert bad.status == "error" and "SyntaxError" in bad.detail
    assert check_code("print 'old'\n", "Python", 0.1).status == "error"  # Python 2
    assert check_code("fn add(a: i32, b: i32) -> i32 { a + b }\n", "Rust", 0.1).status == "ok"
    assert check_code("fn add(a: i32, b: i32) -> i32 { a + + ; } } {{\n let", "Rust", 0.1).status == "error"
    assert check_code("export function f(x: number): number { return x * 2; }\n", "TypeScript", 0.1).status == "ok"
    assert check_code("int main() { return 0; }\n", "C++", 0.1).status == "ok"
    assert check_code("function f($x) { return $x + 1; }\n", "PHP", 0.1).status == "ok"  # order's PHP grammar
    assert check_code("class A { void f( { } } }} ]\n", "Java", 0.1).status == "error"
    assert check_code("echo hi\n", "Shell", 0.1).status == "unchecked"
    assert check_code("   \n", "Python", 0.1).status == "error"


def test_prompt_is_the_papers_with_the_language_and_optional_tests() -> None:
    system, user = build_messages("x = 1", "Rust", with_tests=False)
    assert system["role"] == "system" and "crafting high-quality programming problems" in system["content"]
    assert "two distinct sections: [Problem Description] and [Solution]" in user["content"]
    assert "**completely self-contained**" in user["content"] and "```rust block" in user["content"]
    assert "[Tests]" not in user["content"]
    _, user = build_messages("s = '```'", "Python", with_tests=True)
    assert "three distinct sections" in user["content"] and "3. [Tests]" in user["content"]
    assert "````\ns = '```'\n````" in user["content"]  # a longer fence than any run in the snippet
