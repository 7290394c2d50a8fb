"""Inline SVG charts written as text: no JS library, no CDN, byte-stable output.

Coordinates are printed with one decimal so the same numbers always give the same bytes. Every mark
carries a <title> (the browser's tooltip) with the exact value; text uses the page's CSS font.
"""
from __future__ import annotations

import math
from html import escape
from typing import Sequence

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#2f7ebc", "#8cd17d", "#d37295")
OTHER = "#bab0ac"
ACCENT = "#4e79a7"
SEQUENTIAL = ("#1f4e79", "#2b5f93", "#3a70a8", "#4a80b8", "#5b8fc7", "#6d9ed3", "#7fadde")
MUTED = "#9aa3ad"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _f(x: float) -> str:
    return f"{x:.1f}"


def fmt_int(n: float | int | None) -> str:
    return "–" if n is None else f"{int(round(n)):,}"


def fmt_bytes(n: float | int | None) -> str:
    if n is None:
        return "–"
    n = float(n)
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def fmt_num(x: float | None) -> str:
    """Compact general number: 4 significant digits, thousands separators for big values."""
    if x is None:
        return "–"
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def _open(width: float, height: float, label: str) -> str:
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(width)} {_f(height)}" '
            f'width="{_f(width)}" height="{_f(height)}" role="img" aria-label="{escape(label)}">'
            f"<title>{escape(label)}</title>")


def _text(x: float, y: float, s: str, cls: str = "", anchor: str = "start") -> str:
    c = f' class="{cls}"' if cls else ""
    a = f' text-anchor="{anchor}"' if anchor != "start" else ""
    return f'<text x="{_f(x)}" y="{_f(y)}"{c}{a}>{escape(s)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str, rx: float = 2.0) -> str:
    return (f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0.0))}" height="{_f(h)}" rx="{_f(rx)}" '
            f'fill="{fill}"><title>{escape(tip)}</title></rect>')


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def hbar(rows: Sequence[tuple[str, float, str]], label: str, width: float = 910.0,
         fill: str = ACCENT, label_chars: int = 26) -> str:
    """Horizontal bars: rows of (category, value, text shown after the bar and in the tooltip)."""
    bar_h, gap, top = 18.0, 7.0, 6.0
    left = 7.0 * label_chars + 12
    right = 260.0
    span = width - left - right
    vmax = max((v for _, v, _ in rows), default=0.0) or 1.0
    height = top * 2 + len(rows) * (bar_h + gap)
    out = [_open(width, height, label)]
    for i, (cat, value, text) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = span * max(value, 0.0) / vmax
        out.append(_text(left - 8, y + bar_h * 0.72, _clip(cat, label_chars), "lbl", "end"))
        out.append(_rect(left, y, max(w, 1.0), bar_h, fill, f"{cat}: {text}"))
        out.append(_text(left + w + 6, y + bar_h * 0.72, text, "val"))
    out.append("</svg>")
    return "".join(out)


def funnel(rows: Sequence[tuple[str, float, str, str]], label: str, width: float = 910.0) -> str:
    """Centred bars narrowing stage by stage: (stage, value, main text, retained text)."""
    bar_h, gap, top = 34.0, 10.0, 4.0
    left, right = 110.0, 120.0
    span = width - left - right
    centre = left + span / 2
    vmax = max((v for _, v, _, _ in rows), default=0.0) or 1.0
    height = top * 2 + len(rows) * (bar_h + gap)
    out = [_open(width, height, label)]
    for i, (stage, value, text, kept) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(span * max(value, 0.0) / vmax, 2.0)
        out.append(_text(left - 12, y + bar_h * 0.62, stage, "lbl strong", "end"))
        out.append(_rect(centre - w / 2, y, w, bar_h, SEQUENTIAL[i % len(SEQUENTIAL)], f"{stage}: {text}", rx=4.0))
        fits = w >= 7.0 * len(text) + 16
        out.append(_text(centre, y + bar_h * 0.62, text, "inbar" if fits else "lbl strong", "middle"))
        out.append(_text(width - right + 12, y + bar_h * 0.62, kept, "val"))
    out.append("</svg>")
    return "".join(out)


def stacked_share(rows: Sequence[tuple[str, Sequence[float]]], categories: Sequence[str],
                  colors: Sequence[str], label: str, width: float = 910.0) -> str:
    """One 100% bar per row (a stage), segments per category (a language), legend underneath."""
    bar_h, gap, top, left = 26.0, 10.0, 4.0, 90.0
    span = width - left - 10
    legend_cols = 4
    legend_rows = math.ceil(len(categories) / legend_cols)
    bars_h = top + len(rows) * (bar_h + gap)
    height = bars_h + 8 + legend_rows * 20
    out = [_open(width, height, label)]
    for i, (name, values) in enumerate(rows):
        y = top + i * (bar_h + gap)
        total = sum(max(v, 0.0) for v in values) or 1.0
        x = left
        out.append(_text(left - 10, y + bar_h * 0.66, name, "lbl strong", "end"))
        for cat, v, fill in zip(categories, values, colors):
            share = max(v, 0.0) / total
            w = span * share
            if w <= 0:
                continue
            out.append(_rect(x, y, w, bar_h, fill, f"{name} · {cat}: {fmt_pct(share)}", rx=0.0))
            if w >= 58:
                out.append(_text(x + 4, y + bar_h * 0.66, _clip(f"{cat} {fmt_pct(share, 0)}", int(w / 6.6)), "seg"))
            x += w
    col_w = (width - left) / legend_cols
    for j, (cat, fill) in enumerate(zip(categories, colors)):
        lx = left + (j % legend_cols) * col_w
        ly = bars_h + 8 + (j // legend_cols) * 20
        out.append(f'<rect x="{_f(lx)}" y="{_f(ly)}" width="12" height="12" rx="2" fill="{fill}"/>')
        out.append(_text(lx + 18, ly + 10.5, _clip(cat, 22), "lbl"))
    out.append("</svg>")
    return "".join(out)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1-2-5 steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t < hi + step * 0.999:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _tick_text(v: float) -> str:
    if v == int(v):
        return f"{int(v):,}"
    if abs(v) < 1e-3:
        return f"{v:.1e}".replace("e-0", "e-")
    return f"{v:.4g}"


def line_chart(series: Sequence[tuple[str, Sequence[tuple[float, float]], str, bool]], label: str,
               x_label: str, y_label: str, width: float = 910.0, height: float = 300.0, y_zero: bool = False) -> str:
    """Lines over a shared x axis: (name, points, colour, markers). Markers suit sparse series (val).
    y_zero starts the y axis at 0 (a schedule reads better from zero; a loss curve better zoomed)."""
    left, right, top, bottom = 64.0, 16.0, 28.0, 44.0
    pts = [p for _, ps, _, _ in series for p in ps]
    xs, ys = [p[0] for p in pts] or [0.0, 1.0], [p[1] for p in pts] or [0.0, 1.0]
    xt = nice_ticks(min(xs), max(xs), 6)
    yt = nice_ticks(min(min(ys), 0.0) if y_zero else min(ys), max(ys), 5)
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    pw, ph = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + pw * (x - x0) / ((x1 - x0) or 1.0)

    def sy(y: float) -> float:
        return top + ph * (1 - (y - y0) / ((y1 - y0) or 1.0))

    out = [_open(width, height, label)]
    for t in yt:
        out.append(f'<line class="grid" x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(sy(t))}" y2="{_f(sy(t))}"/>')
        out.append(_text(left - 6, sy(t) + 4, _tick_text(t), "tick", "end"))
    for t in xt:
        out.append(f'<line class="grid" x1="{_f(sx(t))}" x2="{_f(sx(t))}" y1="{_f(top)}" y2="{_f(top + ph)}"/>')
        out.append(_text(sx(t), top + ph + 16, _tick_text(t), "tick", "middle"))
    out.append(f'<line class="axis" x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(top + ph)}" y2="{_f(top + ph)}"/>')
    out.append(_text(left + pw / 2, height - 6, x_label, "axlbl", "middle"))
    out.append(f'<text class="axlbl" transform="translate(14 {_f(top + ph / 2)}) rotate(-90)" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    lx = left
    for name, ps, stroke, markers in series:
        if len(ps) > 1:
            d = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y in ps)
            out.append(f'<polyline class="series" fill="none" stroke="{stroke}" stroke-width="2" points="{d}">'
                       f"<title>{escape(name)}: {len(ps)} points, last {fmt_num(ps[-1][1])}</title></polyline>")
        if markers or len(ps) == 1:
            for x, y in ps:
                out.append(f'<circle cx="{_f(sx(x))}" cy="{_f(sy(y))}" r="3.5" fill="{stroke}">'
                           f"<title>{escape(name)} @ step {fmt_num(x)}: {fmt_num(y)}</title></circle>")
        out.append(f'<rect x="{_f(lx)}" y="8" width="14" height="4" rx="1" fill="{stroke}"/>')
        out.append(_text(lx + 20, 14, name, "lbl"))
        lx += 30 + 7.0 * len(name)
    out.append("</svg>")
    return "".join(out)


def vbar(rows: Sequence[tuple[str, float]], label: str, x_label: str, y_label: str,
         width: float = 380.0, height: float = 220.0, fill: str = ACCENT) -> str:
    """Vertical bars for a small histogram (e.g. repositories per dedup cluster)."""
    left, right, top, bottom = 48.0, 12.0, 14.0, 40.0
    vmax = max((v for _, v in rows), default=0.0)
    yt = nice_ticks(0.0, vmax or 1.0, 4)
    pw, ph = width - left - right, height - top - bottom
    slot = pw / max(len(rows), 1)
    out = [_open(width, height, label)]
    for t in yt:
        y = top + ph * (1 - t / (yt[-1] or 1.0))
        out.append(f'<line class="grid" x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(y)}" y2="{_f(y)}"/>')
        out.append(_text(left - 6, y + 4, _tick_text(t), "tick", "end"))
    for i, (cat, v) in enumerate(rows):
        h = ph * v / (yt[-1] or 1.0)
        bw = min(slot * 0.7, 56.0)
        x = left + i * slot + (slot - bw) / 2
        out.append(_rect(x, top + ph - h, bw, h, fill, f"{x_label} {cat}: {fmt_int(v)}"))
        out.append(_text(x + bw / 2, top + ph + 15, cat, "tick", "middle"))
        out.append(_text(x + bw / 2, top + ph - h - 4, fmt_int(v), "val", "middle"))
    out.append(_text(left + pw / 2, height - 6, x_label, "axlbl", "middle"))
    out.append(f'<text class="axlbl" transform="translate(12 {_f(top + ph / 2)}) rotate(-90)" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    out.append("</svg>")
    return "".join(out)
