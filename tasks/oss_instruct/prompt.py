"""The OSS-Instruct prompt (Magicoder, arXiv 2312.02120, Figure 2 / Appendix) and the response cache key.

The wording is the paper's. Two additions, both needed to check what comes back: the solution's
language is named (the seed's language, so its code can be parsed with that grammar), and for the
languages in `validate.request_tests` a third section, [Tests], asks for assert statements that the
stage runs against the solution in the sandbox.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

SYSTEM = ("You are exceptionally skilled at crafting high-quality programming problems and offering "
          "precise solutions.")

USER = """Please gain inspiration from the following random code snippet to create a high-quality programming problem. Present your output in {n_sections} distinct sections: {section_list}.

Code snippet for inspiration:
{fence}
{code}
{fence}

Guidelines for each section:

1. [Problem Description]: This should be **completely self-contained**, providing all the contextual information one needs to understand and solve the problem. Assume common programming knowledge, but ensure that any specific context, variables, or code snippets pertinent to this problem are explicitly included.
2. [Solution]: Offer a comprehensive, **correct** solution that accurately addresses the [Problem Description] you provided. Write it in {language}, with the code in a ```{tag} block."""

TESTS = """
3. [Tests]: A few `assert` statements in one ```{tag} block that check the solution. They will be appended to the solution's code and run, so they must not need any input, file or network."""

# corpus language name -> markdown fence tag; aliases a teacher may use for the same language
FENCE_TAGS = {"Python": "python", "C++": "cpp", "Java": "java", "TypeScript": "typescript", "Shell": "bash",
              "C#": "csharp", "Rust": "rust", "PHP": "php", "Swift": "swift", "JavaScript": "javascript",
              "Go": "go", "C": "c", "Kotlin": "kotlin", "Ruby": "ruby", "Scala": "scala"}
TAG_ALIASES = {"python": {"python", "py", "python3"}, "cpp": {"cpp", "c++", "cc", "cxx", "hpp"},
               "java": {"java"}, "typescript": {"typescript", "ts", "tsx"},
               "bash": {"bash", "sh", "shell", "zsh"}, "csharp": {"csharp", "c#", "cs"}, "rust": {"rust", "rs"},
               "php": {"php"}, "swift": {"swift"}, "javascript": {"javascript", "js", "jsx"},
               "go": {"go", "golang"}, "c": {"c", "h"}, "kotlin": {"kotlin", "kt"}, "ruby": {"ruby", "rb"},
               "scala": {"scala"}}


def fence_tag(lang: str) -> str:
    return FENCE_TAGS.get(lang, lang.strip().lower().replace(" ", "-"))


def tag_matches(tag: str, lang: str) -> bool:
    """Does a code block's info string name `lang`?"""
    want = fence_tag(lang)
    return tag.strip().lower() in TAG_ALIASES.get(want, {want})


def _fence(code: str) -> str:
    """A backtick fence longer than any backtick run in the snippet, so the snippet cannot close it."""
    longest, run = 0, 0
    for ch in code:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def build_messages(snippet: str, lang: str, with_tests: bool) -> list[dict[str, str]]:
    sections = ["[Problem Description]", "[Solution]"] + (["[Tests]"] if with_tests else [])
    user = USER.format(n_sections="three" if with_tests else "two",
                       section_list=", ".join(sections[:-1]) + " and " + sections[-1],
                       fence=_fence(snippet), code=snippet, language=lang, tag=fence_tag(lang))
    if with_tests:
        user += TESTS.format(tag=fence_tag(lang))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def cache_key(model: str, messages: list[dict[str, str]], sampling: dict[str, Any]) -> str:
    """sha256 of what determines an answer: model, messages, sampling params (not the endpoint or key)."""
    material = {"v": 1, "model": model, "messages": messages, "sampling": sampling}
    return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()
