"""Charts for the Reports page and nothing else: pure functions from figures to inline
SVG markup. No script, no asset, no CDN: the page is readable as served, printable, and
a screen reader reads each chart's <title> and <desc>.

Every label is escaped (campaign and channel names are the tenants' own text). Each
data point carries its series, label and value as data-* attributes and a tooltip, so
that tests (and curious people) read the figures back from the markup.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

WIDTH, HEIGHT = 520, 240
# Room for the title and legend (top), the y tick labels (left) and the x ones (bottom).
TOP, RIGHT, BOTTOM, LEFT = 44, 12, 26, 44
MAX_X_TICKS = 8
GRID, AXIS, TEXT = "#e5e7eb", "#9ca3af", "#4b5563"
PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2"]


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[float | None]  # one per label; None: no data that day (a gap)
    color: str = ""


def _number(value: float) -> str:
    """ "1,234", "12.5": what a tick or tooltip shows."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def nice_ticks(peak: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2 or 5 times a power of ten) up to at least `peak`."""
    if peak <= 0:
        return [0, 1]
    raw = peak / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if step < 1 and peak >= 1:
        step = 1
    top = math.ceil(peak / step) * step
    return [round(step * n, 10) for n in range(round(top / step) + 1)]


def _xml_id(key: str) -> str:
    return "chart-" + (slugify(key) or "x")


def _frame(key: str, title: str, description: str, body: list[str], width: int) -> SafeString:
    ident = _xml_id(key)
    # Safe: every text in it went through escape(), every number is ours.
    return mark_safe(  # noqa: S308
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sb-chart" id="{ident}" role="img" '
        f'viewBox="0 0 {width} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="sans-serif">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
        f'<text class="chart-title" x="{LEFT}" y="16" font-size="13" font-weight="bold" '
        f'fill="{TEXT}">{escape(title)}</text>' + "".join(body) + "</svg>"
    )


def _legend(series: Sequence[Series], colors: list[str]) -> str:
    parts, x = [], LEFT
    for item, color in zip(series, colors, strict=True):
        parts.append(
            f'<g class="legend-item"><rect x="{x}" y="25" width="10" height="10" '
            f'fill="{color}"/><text x="{x + 14}" y="34" font-size="11" fill="{TEXT}">'
            f"{escape(item.name)}</text></g>"
        )
        x += 24 + 7 * len(item.name)
    return "".join(parts)


def _y_axis(ticks: list[float], y_of: Callable[[float], float], width: int, unit: str) -> str:
    parts = []
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<g class="y-tick"><line x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT}" '
            f'y2="{y:.1f}" stroke="{GRID}"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
            f'font-size="10" fill="{TEXT}" text-anchor="end">{escape(_number(tick))}</text></g>'
        )
    if unit:
        parts.append(
            f'<text class="unit" x="{width - RIGHT}" y="16" font-size="10" fill="{TEXT}" '
            f'text-anchor="end">{escape(unit)}</text>'
        )
    return "".join(parts)


def _x_ticks(labels: Sequence[str], x_of: Callable[[int], float]) -> str:
    every = max(1, math.ceil(len(labels) / MAX_X_TICKS))
    parts = []
    for index in range(0, len(labels), every):
        x = x_of(index)
        parts.append(
            f'<g class="x-tick"><line x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" '
            f'y2="{HEIGHT - BOTTOM + 4}" stroke="{AXIS}"/><text x="{x:.1f}" '
            f'y="{HEIGHT - BOTTOM + 16}" font-size="10" fill="{TEXT}" text-anchor="middle">'
            f"{escape(labels[index])}</text></g>"
        )
    return "".join(parts)


def _colors(series: Sequence[Series]) -> list[str]:
    return [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    description: str = "",
    unit: str = "",
    key: str = "",
    width: int = WIDTH,
) -> SafeString:
    """One line per series over `labels` (days): a point per value, a gap where a
    value is None, y from 0 to a round number above the highest value."""
    colors = _colors(series)
    values = [v for s in series for v in s.points if v is not None]
    ticks = nice_ticks(max(values, default=0))
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x_of(index: int) -> float:
        return LEFT + (index * step if len(labels) > 1 else plot_w / 2)

    def y_of(value: float) -> float:
        return TOP + plot_h - value / ticks[-1] * plot_h

    body = [_legend(series, colors), _y_axis(ticks, y_of, width, unit), _x_ticks(labels, x_of)]
    for item, color in zip(series, colors, strict=True):
        body.append(_line(item, color, labels, x_of, y_of, unit))
    summary = "; ".join(
        f"{s.name}: total {_number(sum(v for v in s.points if v is not None))}" for s in series
    )
    return _frame(key or title, title, description or summary, body, width)


def _line(item: Series, color: str, labels, x_of, y_of, unit: str) -> str:
    runs, run, dots = [], [], []
    for index, value in enumerate(item.points):
        if value is None:
            runs, run = runs + ([run] if run else []), []
            continue
        x, y = x_of(index), y_of(value)
        run.append(f"{x:.1f},{y:.1f}")
        dots.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}" '
            f'data-series="{escape(item.name)}" data-label="{escape(labels[index])}" '
            f'data-value="{value:g}"><title>{escape(labels[index])}: {escape(item.name)} '
            f"{escape(_number(value))}{(' ' + escape(unit)) if unit else ''}</title></circle>"
        )
    runs += [run] if run else []
    lines = "".join(
        f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(r)}"/>'
        for r in runs
    )
    return f'<g class="series" data-series="{escape(item.name)}">{lines}{"".join(dots)}</g>'


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    description: str = "",
    unit: str = "",
    color: str = PALETTE[0],
    limit: float | None = None,
    limit_label: str = "cap",
    key: str = "",
    width: int = WIDTH,
) -> SafeString:
    """A bar per label; `limit` (a daily cap) drawn as a dashed line across."""
    ticks = nice_ticks(max([*values, limit or 0], default=0))
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = max(slot * 0.7, 1)

    def x_of(index: int) -> float:
        return LEFT + slot * index + slot / 2

    def y_of(value: float) -> float:
        return TOP + plot_h - value / ticks[-1] * plot_h

    body = [_y_axis(ticks, y_of, width, unit), _x_ticks(labels, x_of)]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = y_of(value)
        body.append(
            f'<rect class="bar" x="{x_of(index) - bar_w / 2:.1f}" y="{y:.1f}" '
            f'width="{bar_w:.1f}" height="{TOP + plot_h - y:.1f}" fill="{color}" '
            f'data-label="{escape(label)}" data-value="{value:g}"><title>{escape(label)}: '
            f"{escape(_number(value))}{(' ' + escape(unit)) if unit else ''}</title></rect>"
        )
    if limit is not None:
        # The line across the bars; its label up with the legend, where no bar hides it.
        y = y_of(limit)
        body.append(
            f'<g class="limit" data-value="{limit:g}"><line x1="{LEFT}" y1="{y:.1f}" '
            f'x2="{width - RIGHT}" y2="{y:.1f}" stroke="#dc2626" stroke-dasharray="4 3"/>'
            f'<line x1="{LEFT}" y1="30" x2="{LEFT + 20}" y2="30" stroke="#dc2626" '
            f'stroke-dasharray="4 3"/><text x="{LEFT + 24}" y="34" font-size="11" '
            f'fill="#dc2626">{escape(limit_label)} {escape(_number(limit))}</text></g>'
        )
    summary = f"Total {_number(sum(values))}" + (
        f"; {limit_label} {_number(limit)} a day" if limit is not None else ""
    )
    return _frame(key or title, title, description or summary, body, width)


def funnel_chart(
    *,
    title: str,
    stages: Sequence[tuple[str, float]],
    description: str = "",
    key: str = "",
    width: int = WIDTH,
) -> SafeString:
    """Horizontal bars, one per stage, each as long as its count against the first
    stage's, labelled with the count and its share of the first stage."""
    first = stages[0][1] if stages else 0
    peak = max((count for _, count in stages), default=0) or 1
    label_w, row_h = 92, (HEIGHT - TOP - 8) / max(len(stages), 1)
    plot_w = width - label_w - RIGHT - 90
    body = []
    for index, (name, count) in enumerate(stages):
        y = TOP + index * row_h
        bar_w = count / peak * plot_w
        share = f"{count / first * 100:.0f}%" if first else "—"
        body.append(
            f'<g class="stage" data-label="{escape(name)}" data-value="{count:g}">'
            f'<text x="{label_w - 6}" y="{y + row_h * 0.62:.1f}" font-size="11" fill="{TEXT}" '
            f'text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + row_h * 0.15:.1f}" width="{bar_w:.1f}" '
            f'height="{row_h * 0.7:.1f}" fill="{PALETTE[index % len(PALETTE)]}">'
            f"<title>{escape(name)}: {escape(_number(count))} ({share} of "
            f"{escape(stages[0][0])})</title></rect>"
            f'<text x="{label_w + bar_w + 6:.1f}" y="{y + row_h * 0.62:.1f}" font-size="11" '
            f'fill="{TEXT}">{escape(_number(count))} · {share}</text></g>'
        )
    summary = ", ".join(f"{name} {_number(count)}" for name, count in stages)
    return _frame(key or title, title, description or summary, body, width)
