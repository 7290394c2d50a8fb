"""Chart geometry: ticks cover the data, marks land inside the plot area in proportion to values."""
from __future__ import annotations

import math
import random
import re

from tasks.report import svg


def test_nice_ticks_cover_range_with_round_steps() -> None:
    rng = random.Random(11)
    for _ in range(200):
        lo = rng.uniform(-1e4, 1e4) * 10 ** rng.randint(-6, 0)
        hi = lo + rng.uniform(1e-6, 1e5) * 10 ** rng.randint(-4, 0)
        ticks = svg.nice_ticks(lo, hi)
        assert ticks[0] <= lo + 1e-12 and ticks[-1] >= hi - 1e-9 * max(1.0, abs(hi)), (lo, hi, ticks)
        assert 2 <= len(ticks) <= 12
        step = ticks[1] - ticks[0]
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert any(abs(mantissa - m) < 1e-6 for m in (1, 2, 2.5, 5, 10)), (step, ticks)


def test_hbar_widths_are_proportional() -> None:
    rows = [("a", 10.0, "10"), ("b", 5.0, "5"), ("c", 2.5, "2.5")]
    out = svg.hbar(rows, "t")
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', out)]
    assert len(widths) == 3
    assert abs(widths[1] / widths[0] - 0.5) < 0.01 and abs(widths[2] / widths[0] - 0.25) < 0.01


def test_line_chart_points_stay_inside_plot_area() -> None:
    pts = [(float(s), 5.0 / (1 + s)) for s in range(0, 500, 7)]
    out = svg.line_chart([("loss", pts, "#000", False)], "t", "step", "loss", width=600, height=300)
    (points,) = re.findall(r'points="([^"]+)"', out)
    xy = [tuple(map(float, p.split(","))) for p in points.split()]
    assert len(xy) == len(pts)
    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
    assert xs == sorted(xs) and 0 < min(xs) and max(xs) < 600 and 0 < min(ys) and max(ys) < 300
    assert ys == sorted(ys)  # a falling loss is drawn rising in SVG coordinates (y grows downwards)


def test_text_is_escaped_in_labels() -> None:
    out = svg.hbar([("<b>&", 1.0, "x")], "a<b")
    assert "<b>&" not in out
    assert "&lt;b&gt;&amp;" in out and 'aria-label="a&lt;b"' in out


def test_long_series_are_thinned_keeping_ends() -> None:
    from tasks.report.sections import MAX_POINTS, thin

    pts = [(float(i), float(i % 7)) for i in range(10 * MAX_POINTS + 3)]
    out = thin(pts)
    assert len(out) <= MAX_POINTS + 1 and out[0] == pts[0] and out[-1] == pts[-1]
    assert thin(pts[:10]) == pts[:10]
