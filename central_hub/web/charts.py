"""Server-rendered SVG bar charts (no script, no CDN): a pure function from bars to markup.

Every text that goes into the SVG is escaped here; colours come from classes in dashboard.css
(the page's CSP allows no inline style). A bar whose value is None (no denominator) is drawn as
an empty slot labelled with a dash, never as zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH = 560
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 56  # plot margins, px
GRID_LINES = 4


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (a period, an area)
    value: float | None  # None: nothing to divide by
    note: str = ""  # second line under the bar, e.g. "9/11"


def nice_max(values: list[float], floor: float) -> float:
    """A round upper bound for the axis: at least `floor`, 1/2/5 x 10^n above the largest value."""
    top = max([v for v in values if v is not None] + [floor])
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= top:
            return float(step * magnitude)
    return float(10 * magnitude)


def bar_chart(title: str, bars: list[Bar], unit: str, axis_max: float | None = None, chart_id: str = "") -> str:
    """An accessible SVG: <title> for screen readers, one <g class="bar"> per bar with data-value."""
    top = axis_max if axis_max is not None else nice_max([b.value for b in bars if b.value is not None], 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(bars))
    bar_w = min(56.0, slot * 0.6)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
           f' aria-labelledby="{escape(chart_id)}-title"' + (f' id="{escape(chart_id)}"' if chart_id else "") + ">",
           f'<title id="{escape(chart_id)}-title">{escape(title)}</title>']
    for i in range(GRID_LINES + 1):
        y = TOP + plot_h - plot_h * i / GRID_LINES
        tick = top * i / GRID_LINES
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick)}{escape(unit)}'
                   "</text>")
    for i, bar in enumerate(bars):
        cx = LEFT + slot * i + slot / 2
        out.append(f'<g class="bar" data-label="{escape(bar.label)}" data-value="'
                   f'{"" if bar.value is None else _number(bar.value)}">')
        if bar.value is None:
            out.append(f'<text class="value none" x="{cx:.1f}" y="{TOP + plot_h - 6}" text-anchor="middle">-</text>')
        else:
            h = plot_h * min(max(bar.value, 0.0), top) / top
            out.append(f'<rect x="{cx - bar_w / 2:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}"/>')
            out.append(f'<text class="value" x="{cx:.1f}" y="{TOP + plot_h - h - 4:.1f}" text-anchor="middle">'
                       f"{_number(bar.value)}{escape(unit)}</text>")
        out.append(f'<text class="label" x="{cx:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{escape(bar.label)}'
                   "</text>")
        if bar.note:
            out.append(f'<text class="note" x="{cx:.1f}" y="{TOP + plot_h + 36}" text-anchor="middle">'
                       f"{escape(bar.note)}</text>")
        out.append("</g>")
    out.append(f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>')
    out.append("</svg>")
    return "".join(out)


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
