"""column_stats (the fast byte-level path) against a plain per-character reference."""
from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.filter import textstats
from tasks.filter.textstats import column_stats, text_stats


def reference(text: str) -> tuple[int, int, int, int, int]:
    """(n_chars, n_lines, line_chars, max_line, alpha) straight from the definitions."""
    body = text.replace("\r\n", "\n")
    lines = body.split("\n") if body else []
    if body.endswith("\n"):
        lines.pop()
    return (len(text), len(lines), sum(len(x) for x in lines), max((len(x) for x in lines), default=0),
            sum(1 for c in text if c.isalpha()))


def check_column(texts: list[str | None], limit: int) -> None:
    stats = column_stats(pa.array(texts, type=pa.string()), limit)
    for i, text in enumerate(texts):
        if text is None:
            continue
        n_chars, n_lines, line_chars, max_line, alpha = reference(text)
        got = (int(stats.n_chars[i]), int(stats.n_lines[i]), int(stats.line_chars[i]), int(stats.alpha[i]),
               bool(stats.long_line[i]))
        assert got == (n_chars, n_lines, line_chars, alpha, max_line > limit), (text, limit)
        assert text_stats(text) == textstats.TextStats(n_chars, n_lines, line_chars, max_line, alpha)


PIECES = ["a", "Z", "q", "1", " ", "_", "{", "\n", "\r", "\r\n", "\t", "é", "ß", "中", "ü", "\U0001d518",
          "٣", "\u2028", "€", "\x00"]
texts = st.lists(st.sampled_from(PIECES), max_size=60).map("".join) | st.text(
    alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.none() | texts, max_size=12), st.integers(min_value=1, max_value=12))
def test_matches_reference_on_random_texts(batch, limit):
    check_column(batch, limit)


@pytest.fixture
def tiny_groups(monkeypatch):
    monkeypatch.setattr(textstats, "GROUP_BYTES", 7)
    monkeypatch.setattr(textstats, "_LOOP_MIN_ROW_BYTES", 3)


@pytest.mark.usefixtures("tiny_groups")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(texts, min_size=1, max_size=12), st.integers(min_value=1, max_value=12))
def test_row_grouping_does_not_change_results(batch, limit):
    # Tiny groups: rows spread over many groups, long rows stand alone, counts use the per-row loop.
    check_column(batch, limit)


@pytest.mark.parametrize("text, expected", [
    ("", (0, 0, 0, 0, 0)),
    ("ab\n", (3, 1, 2, 2, 2)),
    ("ab\ncd", (5, 2, 4, 2, 4)),
    ("ab\r\ncd\r\n", (8, 2, 4, 2, 4)),  # '\r\n' measures like '\n'
    ("ab\rcd", (5, 1, 5, 5, 4)),  # a lone '\r' is an ordinary character
    ("\n\n", (2, 2, 0, 0, 0)),
    ("éé\n中", (4, 2, 3, 2, 3)),  # characters, not UTF-8 bytes
])
def test_definitions(text, expected):
    assert reference(text) == expected
    check_column([text], 1)


def test_long_line_threshold_in_characters_and_sliced_arrays():
    exact = "x" * 1000
    over = "x" * 1001
    wide = "é" * 1000  # 2000 bytes, 1000 characters
    crlf = "y" * 1000 + "\r\n" + "short\r\n"
    arr = pa.array(["pad", exact + "\n" + "a\n" * 50, over + "\n" + "a\n" * 50, wide, crlf, None])
    stats = column_stats(arr.slice(1), 1000)
    assert stats.long_line.tolist() == [False, True, False, False, False]


def test_large_string_column():
    stats = column_stats(pa.array(["ab\ncd", None, "é"], type=pa.large_string()), 10)
    assert stats.n_chars.tolist() == [5, 0, 1]
    assert stats.alpha.tolist() == [4, 0, 1]


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 10, 25])
def test_line_just_over_limit_found_at_every_alignment(limit):
    # The newline-free-block bound must catch a line of limit+1 characters wherever it starts.
    rows = []
    for pad in range(3 * limit + 3):
        rows.append("\n" * pad + "b" * (limit + 1) + "\n" + "c\n" * (limit + 2))
        rows.append("\n" * pad + "b" * limit + "\n" + "c\n" * (limit + 2))
    stats = column_stats(pa.array(rows), limit)
    assert stats.long_line.tolist() == [True, False] * (3 * limit + 3)
    check_column(rows, limit)


def test_cr_at_row_end_is_not_paired_with_next_rows_newline():
    # '\r' is the last byte of row 0 and '\n' the first of row 1: adjacent in the buffer, not a pair.
    check_column(["ab\r", "\ncd", "x\r", "\n"], 2)
