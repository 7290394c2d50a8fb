"""The filter rules of DeepSeek-Coder §2.1 and the order they are checked in.

A dropped file records ONE reason: the first rule it fails, in this order (cheap, general rules
first; the paper's order within its rules):

 1. `binary` / `invalid_utf8` / `too_large` - content is null; the crawl's skip_reason is the reason
    (`no_content` if the crawl gave none).
 2. `unsupported_language` - lang is null or not in the supported list.
 3. `avg_line_length`   - average line length > max_avg_line_length (100): exactly 100 is kept.
 4. `max_line_length`   - some line longer than max_line_length (1000): exactly 1000 is kept.
 5. `alpha_fraction`    - alphabetic characters / all characters < min_alpha_fraction (0.25):
    exactly 25% is kept; an empty file has fraction 0.
 6. `xml_header`        - '<?xml version=' lies wholly within the first xml_header_window (100)
    characters, unless the language is XSLT.
 7. `html_visible_text` - HTML only: visible text < html_min_visible_fraction (20%) of the
    characters or < html_min_visible_chars (100); exactly 20% and exactly 100 are kept.
 8. `json_yaml_size`    - JSON/YAML only: characters outside [50, 5000]; both ends kept.

Lengths are characters (code points); see textstats for lines and '\\r\\n'. Comparisons are on exact
integer counts, divided in float64 once (`line_chars / n_lines`, `alpha / n_chars`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasks.filter.config import Config
from tasks.filter.html_text import visible_chars
from tasks.filter.textstats import column_stats

UNSUPPORTED_LANGUAGE = "unsupported_language"
AVG_LINE_LENGTH = "avg_line_length"
MAX_LINE_LENGTH = "max_line_length"
ALPHA_FRACTION = "alpha_fraction"
XML_HEADER = "xml_header"
HTML_VISIBLE_TEXT = "html_visible_text"
JSON_YAML_SIZE = "json_yaml_size"
NO_CONTENT = "no_content"
LICENSE_POLICY = "license_policy"  # the repository's licence is refused by filter.licenses (all its files)
SKIP_REASONS = ("binary", "invalid_utf8", "too_large", "missing_blob")

# Rule order for files with content (after the content and language checks).
RULE_ORDER = (UNSUPPORTED_LANGUAGE, AVG_LINE_LENGTH, MAX_LINE_LENGTH, ALPHA_FRACTION, XML_HEADER,
              HTML_VISIBLE_TEXT, JSON_YAML_SIZE)
# Every reason a decision can carry, in order (a crawl skip reason outside SKIP_REASONS is kept as is).
REASONS = (LICENSE_POLICY, *SKIP_REASONS, NO_CONTENT, *RULE_ORDER)

XML_MARKER = "<?xml version="


def _lang_mask(langs: Sequence[str | None], names: Sequence[str]) -> np.ndarray:
    wanted = {n.lower() for n in names}
    return np.fromiter((lang is not None and lang.lower() in wanted for lang in langs), dtype=bool,
                       count=len(langs))


def _as_string_array(content: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> pa.Array:
    if isinstance(content, pa.ChunkedArray):
        content = content.combine_chunks() if content.num_chunks != 1 else content.chunk(0)
    if not isinstance(content, pa.Array):
        content = pa.array(content, type=pa.string())
    if pa.types.is_null(content.type):
        content = content.cast(pa.string())
    if not (pa.types.is_string(content.type) or pa.types.is_large_string(content.type)):
        raise TypeError(f"content must be a string column, got {content.type}")
    return content


def decide_column(content: pa.Array | pa.ChunkedArray | Sequence[str | None], langs: Sequence[str | None],
                  cfg: Config, skip_reasons: Sequence[str | None] | None = None,
                  supported: frozenset[str] | None = None) -> list[str | None]:
    """The drop reason of every row (None = kept), in row order."""
    content = _as_string_array(content)
    n = len(content)
    if len(langs) != n or (skip_reasons is not None and len(skip_reasons) != n):
        raise ValueError("content, langs and skip_reasons must have the same length")
    supported = cfg.supported() if supported is None else supported
    reasons: list[str | None] = [None] * n
    if n == 0:
        return reasons

    has_content = np.asarray(content.is_valid(), dtype=bool)
    # Checked in RULE_ORDER; `open_` marks rows no rule has dropped yet.
    open_ = has_content.copy()
    known = np.fromiter((lang in supported for lang in langs), dtype=bool, count=n)
    _assign(reasons, open_, ~known, UNSUPPORTED_LANGUAGE)

    st = column_stats(content, cfg.max_line_length)
    avg = st.line_chars / np.maximum(st.n_lines, 1)
    _assign(reasons, open_, avg > cfg.max_avg_line_length, AVG_LINE_LENGTH)
    _assign(reasons, open_, st.long_line, MAX_LINE_LENGTH)
    alpha = st.alpha / np.maximum(st.n_chars, 1)
    _assign(reasons, open_, alpha < cfg.min_alpha_fraction, ALPHA_FRACTION)

    if cfg.xml_header_window >= len(XML_MARKER):
        head = pc.utf8_slice_codeunits(content, 0, cfg.xml_header_window)
        has_xml = pc.fill_null(pc.match_substring(head, XML_MARKER), False).to_numpy(zero_copy_only=False)
        exempt = _lang_mask(langs, cfg.xml_exempt_languages)
        _assign(reasons, open_, has_xml & ~exempt, XML_HEADER)

    is_html = _lang_mask(langs, cfg.html_languages)
    for i in np.flatnonzero(open_ & is_html).tolist():
        n_chars = int(st.n_chars[i])
        seen = visible_chars(content[i].as_py())
        share = seen / n_chars if n_chars else 0.0
        if seen < cfg.html_min_visible_chars or share < cfg.html_min_visible_fraction:
            reasons[i] = HTML_VISIBLE_TEXT
            open_[i] = False

    is_data = _lang_mask(langs, cfg.json_yaml_languages)
    size_out = (st.n_chars < cfg.json_yaml_min_chars) | (st.n_chars > cfg.json_yaml_max_chars)
    _assign(reasons, open_, is_data & size_out, JSON_YAML_SIZE)

    for i in np.flatnonzero(~has_content).tolist():
        skip = skip_reasons[i] if skip_reasons is not None else None
        reasons[i] = skip or NO_CONTENT
    return reasons


def _assign(reasons: list[str | None], open_: np.ndarray, failed: np.ndarray, reason: str) -> None:
    """Give `reason` to the still-open rows that fail, and close them."""
    hit = open_ & failed
    for i in np.flatnonzero(hit).tolist():
        reasons[i] = reason
    open_ &= ~hit


def decide(content: str | None, lang: str | None, cfg: Config, skip_reason: str | None = None,
           supported: frozenset[str] | None = None) -> str | None:
    """The drop reason of one file (None = kept); same code path as a whole shard."""
    return decide_column([content], [lang], cfg, [skip_reason], supported)[0]
