"""Reading a teacher's answer: the [Problem Description], [Solution] and optional [Tests] sections,
and the fenced code blocks inside them.

Teachers decorate the section markers (`**[Solution]**`, `## [Solution]`, `[Solution]:` followed by
text on the same line); all of these count. Markers inside a code block do not. Code blocks are
CommonMark fences (three or more backticks or tildes, closed by the same character at least as
long); a block left open (a cut-off answer) is reported as such, never silently closed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from tasks.oss_instruct.prompt import fence_tag, tag_matches

SECTIONS = ("problem", "solution", "tests")
_MARKER = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?[*_]{0,2}[ \t]*\[(problem description|solution|tests?)\][ \t]*[*_]{0,2}[ \t]*:?[ \t]*",
    re.IGNORECASE)
_NAMES = {"problem description": "problem", "solution": "solution", "test": "tests", "tests": "tests"}
_FENCE = re.compile(r"^([ \t]{0,3})(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$")


@dataclass(frozen=True)
class CodeBlock:
    tag: str  # the info string's first word, lower-cased ("" when untagged)
    code: str
    closed: bool
    open_line: int  # line index of the opening fence in the text it came from


@dataclass(frozen=True)
class Answer:
    problem: str
    solution: str
    tests: str | None  # the [Tests] section's text, None when the answer has none


def _fence_open(line: str) -> tuple[str, str, str] | None:
    m = _FENCE.match(line)
    if not m or (m.group(2)[0] == "`" and "`" in line[m.end(2):]):
        return None
    return m.group(1), m.group(2), m.group(3).lower()


def _is_close(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]} and len(line) - len(line.lstrip()) <= 3


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block of `text`, in order."""
    lines = text.split("\n")
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        opened = _fence_open(lines[i])
        if opened is None:
            i += 1
            continue
        _, fence, tag = opened
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not _is_close(lines[j], fence):
            body.append(lines[j])
            j += 1
        blocks.append(CodeBlock(tag, "\n".join(body), j < len(lines), i))
        i = j + 1
    return blocks


def split_sections(text: str) -> dict[str, str]:
    """Section name -> its text (first occurrence of each marker; markers inside code blocks ignored)."""
    lines = text.split("\n")
    starts: list[tuple[int, str, str]] = []  # (line, section, rest of the marker line)
    fence: str | None = None
    for n, line in enumerate(lines):
        if fence is not None:
            if _is_close(line, fence):
                fence = None
            continue
        opened = _fence_open(line)
        if opened is not None:
            fence = opened[1]
            continue
        m = _MARKER.match(line)
        if m:
            name = _NAMES[m.group(1).lower()]
            if all(name != s for _, s, _ in starts):
                starts.append((n, name, line[m.end():]))
    out: dict[str, str] = {}
    for k, (n, name, rest) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(lines)
        body = ([rest] if rest.strip() else []) + lines[n + 1:end]
        out[name] = "\n".join(body).strip()
    return out


def parse_answer(text: str) -> Answer | None:
    """The sections of an answer, or None when the problem or the solution is missing or empty."""
    sections = split_sections(text)
    problem, solution = sections.get("problem", ""), sections.get("solution", "")
    if not problem or not solution:
        return None
    return Answer(problem, solution, sections.get("tests"))


def code_for(text: str, lang: str) -> list[CodeBlock]:
    """The blocks of `text` written in `lang` (tagged with one of its names, or untagged)."""
    return [b for b in code_blocks(text) if not b.tag or tag_matches(b.tag, lang)]


def normalise_fences(text: str, lang: str) -> str:
    """`text` with every block in `lang` (or untagged) opened as ```<canonical tag>."""
    lines = text.split("\n")
    tag = fence_tag(lang)
    for block in code_for(text, lang):
        indent, fence, _ = _fence_open(lines[block.open_line]) or ("", "```", "")
        lines[block.open_line] = f"{indent}{fence}{tag}"
    return "\n".join(lines)
