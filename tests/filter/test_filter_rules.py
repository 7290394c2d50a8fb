"""Each rule at its boundary (the paper's > / >= semantics), the rule order and the reasons."""
from __future__ import annotations

import pytest

from tasks.filter import Config, decide, decide_column
from tasks.filter.html_text import visible_text

LANGS = ("Python", "JavaScript", "HTML", "JSON", "YAML", "XSLT", "XML")
CFG = Config(supported_languages=LANGS)


def lines(*lengths: int, fill: str = "a") -> str:
    return "".join(fill * n + "\n" for n in lengths)


def check(text, lang="Python", cfg=CFG, **kw):
    return decide(text, lang, cfg, **kw)


def test_average_line_length_boundary():
    assert check(lines(*[100] * 100)) is None  # average exactly 100: kept
    assert check(lines(*[100] * 99, 101)) == "avg_line_length"  # 100.01
    assert check("a" * 100) is None  # one line without a final newline
    assert check("a" * 101) == "avg_line_length"


def test_max_line_length_boundary():
    short = [50] * 19  # keeps the average under 100
    assert check(lines(1000, *short)) is None
    assert check(lines(1001, *short)) == "max_line_length"
    assert check(lines(*short, 1001)) == "max_line_length"  # position does not matter


def test_line_lengths_count_characters_and_crlf_like_lf():
    assert check(lines(1000, *[50] * 19, fill="é")) is None  # 2000 bytes, 1000 characters
    crlf = lines(*[100] * 10).replace("\n", "\r\n")
    assert check(crlf) is None  # the '\r' of '\r\n' is not part of the line
    assert check(crlf.replace("\r\n", "\r\r\n")) == "avg_line_length"  # a lone '\r' is


def test_alpha_fraction_boundary():
    # 100 characters on one line: 25 letters exactly 25% (kept), 24 letters below (dropped).
    assert check("a" * 25 + "1" * 75) is None
    assert check("a" * 24 + "1" * 76) == "alpha_fraction"
    assert check("中" * 25 + "1" * 75) is None  # non-ASCII letters count as alphabetic
    assert check("") == "alpha_fraction"  # empty: fraction 0


def test_xml_header_within_first_100_characters():
    marker = "<?xml version="
    at_86 = "a" * 86 + marker + "\n" + "a" * 20  # marker ends at character 100: inside the window
    at_87 = "a" * 87 + marker + "\n" + "a" * 20  # its last character is the 101st: outside
    assert check(at_86, "HTML") == "xml_header"
    assert check(at_87, "Python") is None
    assert check("é" * 86 + marker + "\n" + "abc" * 10, "Python") == "xml_header"  # characters, not bytes
    assert check(marker + '"1.0"?>\n<xsl:stylesheet>text</xsl:stylesheet>\n', "XSLT") is None
    assert check(marker + '"1.0"?>\n<xsl:stylesheet>text</xsl:stylesheet>\n', "XML") == "xml_header"


def html_page(visible: int, markup: int) -> str:
    """A page whose visible text is `visible` letters and whose total length is visible + markup."""
    head = "<html><body><p>"
    tail = "</p></body></html>"
    filler = markup - len(head) - len(tail) - len("<!---->")
    assert filler >= 0
    comment = "".join("z" * 49 + "\n" for _ in range(filler // 50)) + "z" * (filler % 50)
    return head + "w" * visible + tail + "<!--" + comment + "-->"


def test_html_visible_text_boundaries():
    assert len(html_page(100, 400)) == 500 and len(visible_text(html_page(100, 400))) == 100
    assert check(html_page(100, 400), "HTML") is None  # exactly 100 characters and exactly 20%
    assert check(html_page(99, 396), "HTML") == "html_visible_text"  # 20% but 99 characters
    assert check(html_page(100, 401), "HTML") == "html_visible_text"  # 100 characters but < 20%
    assert check(html_page(100, 401), "JavaScript") is None  # the rule is for HTML only


def test_html_visible_text_skips_script_style_comments_and_tags():
    page = ("<html><head><style>p { color: red }</style><script>if (a < b) { x = '<p>no</p>'; }</script>"
            "</head><body><!-- hidden --><p>Hello &amp;\n\n   world</p></body></html>")
    assert visible_text(page) == "Hello & world"


def test_json_yaml_size_boundaries():
    def doc(n):  # n characters, letters only, lines of at most 50
        return "\n".join("a" * 49 for _ in range(n // 50)) + "\n" * (n // 50 > 0) + "a" * (n - 50 * (n // 50))
    for lang in ("JSON", "YAML"):
        assert len(doc(50)) == 50 and len(doc(5000)) == 5000
        assert check(doc(49), lang) == "json_yaml_size"
        assert check(doc(50), lang) is None
        assert check(doc(5000), lang) is None
        assert check(doc(5001), lang) == "json_yaml_size"
    assert check(doc(49), "Python") is None


def test_language_and_content_reasons():
    assert check("print('hello world')\n", None) == "unsupported_language"
    assert check("print('hello world')\n", "Brainfuck") == "unsupported_language"
    assert check(None, "Python", skip_reason="binary") == "binary"
    assert check(None, None, skip_reason="too_large") == "too_large"  # content checked before language
    assert check(None, "Python") == "no_content"


def test_first_failed_rule_is_the_reason():
    both = "1" * 150  # too long on average AND no letters
    assert check(both) == "avg_line_length"
    assert check(both, cfg=Config(supported_languages=LANGS, max_avg_line_length=200)) == "alpha_fraction"
    assert check(both, "Cobol") == "unsupported_language"


def test_thresholds_come_from_config():
    cfg = Config(supported_languages=LANGS, max_avg_line_length=10, min_alpha_fraction=0.0)
    assert check("a" * 11, cfg=cfg) == "avg_line_length"
    assert check("1" * 10, cfg=cfg) is None


def test_decide_column_matches_decide_row_by_row():
    texts = [lines(100), None, "a" * 101, html_page(100, 400), "x", "<?xml version='1.0'?>\n" + "a" * 90]
    langs = ["Python", "Python", "Python", "HTML", "JSON", "XML"]
    skips = [None, "invalid_utf8", None, None, None, None]
    got = decide_column(texts, langs, CFG, skips)
    assert got == [decide(t, lang, CFG, s) for t, lang, s in zip(texts, langs, skips)]
    assert got == [None, "invalid_utf8", "avg_line_length", None, "json_yaml_size", "xml_header"]


def test_missing_supported_list_is_a_clear_error(monkeypatch):
    import tasks.filter.config as config
    monkeypatch.setattr(config, "default_supported_languages", lambda: None)
    with pytest.raises(ValueError, match="supported"):
        decide("abc", "Python", Config())
