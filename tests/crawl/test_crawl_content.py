from __future__ import annotations

from tasks.crawl.content import SNIFF_BYTES, decode, looks_binary


def test_plain_utf8_text_is_kept():
    text = "def f():\n    return 'héllo ✓'\n"
    out = decode(text.encode("utf-8"))
    assert out == (text, False, None)


def test_empty_file_is_empty_text():
    assert decode(b"") == ("", False, None)


def test_utf8_bom_is_stripped():
    out = decode(b"\xef\xbb\xbfprint(1)\n")
    assert out.content == "print(1)\n" and out.skip_reason is None


def test_nul_byte_means_binary():
    out = decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert out == (None, True, "binary")


def test_nul_after_the_sniff_window_is_not_binary_but_still_utf8_checked():
    data = b"a" * SNIFF_BYTES + b"\x00"
    assert not looks_binary(data)
    assert decode(data).content == data.decode()


def test_many_control_bytes_mean_binary_but_few_do_not():
    noisy = bytes([1, 2, 3, 4, 65]) * 100
    assert decode(noisy).is_binary
    ansi = ("\x1b[31mred\x1b[0m text\t\f\n" * 50).encode()
    assert not decode(ansi).is_binary


def test_utf16_with_bom_is_not_utf8_and_not_binary():
    out = decode("hello world".encode("utf-16"))  # BOM + NUL-rich bytes
    assert out == (None, False, "invalid_utf8")


def test_latin1_is_invalid_utf8():
    out = decode("café = 1\n".encode("latin-1"))
    assert out == (None, False, "invalid_utf8")


def test_surrogates_are_rejected():
    assert decode(b"x = '\xed\xa0\x80'\n").skip_reason == "invalid_utf8"


def test_too_large_keeps_binary_flag_from_head():
    assert decode(None, b"\x00\x01binary") == (None, True, "too_large")
    assert decode(None, b"just text") == (None, False, "too_large")
