"""Visible text of an HTML file, for the rule "keep HTML only when visible text is >= 20% of the code
and >= 100 characters".

Parser: the stdlib `html.parser` (not a regex pass): it knows that <script> and <style> bodies are raw
text (a '<' inside JavaScript does not open a tag), skips comments, doctype and processing
instructions, and decodes character references (`&amp;` counts as one visible character). HTML is a
small share of a code corpus, so its pure-Python speed does not matter for the stage.

Visible text = the text nodes outside tags, comments, <script> and <style> (the <title> counts: a
browser shows it), with each run of whitespace collapsed to one space and the ends stripped, as a
browser renders it: indentation between tags is not text.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = frozenset({"script", "style"})
_SPACE = re.compile(r"\s+")


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _HIDDEN:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a browser would show; malformed markup never raises (the parser is lenient)."""
    parser = _VisibleText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - malformed markup must give a decision, never stop the shard
        pass  # keep the text found so far
    return _SPACE.sub(" ", "".join(parser.parts)).strip()


def visible_chars(html: str) -> int:
    return len(visible_text(html))
