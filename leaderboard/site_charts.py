"""The leaderboard site's charts as inline SVG, drawn here in Python (no chart library, nothing run in the browser):
line charts (learning curves), bar charts (an evaluation's returns per episode) and histograms (a dataset's
episode returns). Each chart is one `<svg class="chart">` element whose lines carry `class="series"`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
MAX_POINTS = 400  # a series longer than this is thinned (every k-th point, the last one kept)
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 24, 38
LEGEND_ROW = 16


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: str = PALETTE[0]
    dashed: bool = False
    markers: bool = False  # a dot at every point (few points: evaluations)


def _number(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.1e}"
    if magnitude >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * step:
            step *= factor
            break
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _finite(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    pairs = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    pairs = [(x, y) for x, y in pairs if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) > MAX_POINTS:
        stride = math.ceil(len(pairs) / MAX_POINTS)
        pairs = pairs[::stride] + ([pairs[-1]] if (len(pairs) - 1) % stride else [])
    return pairs


class _Frame:
    """Data -> pixel coordinates, axes, ticks and labels of one chart."""

    def __init__(self, width: int, height: int, xs: list[float], ys: list[float], legend_rows: int) -> None:
        self.width, self.height = width, height
        self.bottom = height - BOTTOM - legend_rows * LEGEND_ROW
        self.xticks = nice_ticks(min(xs), max(xs))
        self.yticks = nice_ticks(min(ys), max(ys))
        self.x0, self.x1 = self.xticks[0], self.xticks[-1]
        self.y0, self.y1 = self.yticks[0], self.yticks[-1]

    def x(self, value: float) -> float:
        return LEFT + (value - self.x0) / ((self.x1 - self.x0) or 1) * (self.width - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / ((self.y1 - self.y0) or 1) * (self.bottom - TOP)

    def axes(self, x_label: str, y_label: str, x_ticks: bool = True) -> list[str]:
        parts = []
        for tick in self.yticks:
            y = self.y(tick)
            parts.append(f'<line class="grid" x1="{LEFT}" x2="{self.width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
            parts.append(
                f'<text class="tick" x="{LEFT - 5}" y="{y + 3.5:.1f}" text-anchor="end">{_number(tick)}</text>'
            )
        if x_ticks:
            for tick in self.xticks:
                x = self.x(tick)
                parts.append(
                    f'<text class="tick" x="{x:.1f}" y="{self.bottom + 14}" text-anchor="middle">{_number(tick)}</text>'
                )
        parts.append(
            f'<path class="axis" d="M{LEFT},{TOP} V{self.bottom} H{self.width - RIGHT}" fill="none"/>'
            f'<text class="label" x="{(LEFT + self.width - RIGHT) / 2:.1f}" y="{self.bottom + 30}" '
            f'text-anchor="middle">{escape(x_label)}</text>'
            f'<text class="label" transform="translate(13,{(TOP + self.bottom) / 2:.1f}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>'
        )
        return parts


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text class="title" x="{LEFT}" y="15">{escape(title)}</text>' + "".join(body) + "</svg>"
    )


def _legend(frame: _Frame, entries: list[tuple[str, str, bool]]) -> list[str]:
    parts, x, row = [], LEFT, 0
    for label, color, dashed in entries:
        span = 28 + 6.5 * len(label)
        if x + span > frame.width - RIGHT and x > LEFT:
            x, row = LEFT, row + 1
        y = frame.bottom + 46 + row * LEGEND_ROW
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        parts.append(
            f'<line x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}" stroke="{color}" stroke-width="2"{dash}/>'
            f'<text class="legend" x="{x + 22}" y="{y}">{escape(label)}</text>'
        )
        x += span
    return parts


def _legend_rows(entries: list[str], width: int) -> int:
    rows, x = 1, LEFT
    for label in entries:
        span = 28 + 6.5 * len(label)
        if x + span > width - RIGHT and x > LEFT:
            rows, x = rows + 1, LEFT
        x += span
    return rows


def line_chart(
    series: Sequence[Series], title: str, x_label: str, y_label: str, width: int = 560, height: int = 250
) -> str | None:
    """Lines over a shared x axis; None when no series has a finite point."""
    data = [(s, _finite(s.x, s.y)) for s in series]
    data = [(s, points) for s, points in data if points]
    if not data:
        return None
    legend = len(data) > 1
    rows = _legend_rows([s.label for s, _ in data], width) if legend else 0
    frame = _Frame(width, height + rows * LEGEND_ROW, [x for _, p in data for x, _ in p],
                   [y for _, p in data for _, y in p], rows)  # fmt: skip
    body = frame.axes(x_label, y_label)
    for s, points in data:
        dash = ' stroke-dasharray="5,3"' if s.dashed else ""
        coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in points)
        body.append(
            f'<polyline class="series" fill="none" stroke="{s.color}" stroke-width="1.6"{dash} points="{coords}">'
            f"<title>{escape(s.label)}</title></polyline>"
        )
        if s.markers or len(points) == 1:
            body += [
                f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.8" fill="{s.color}">'
                f"<title>{escape(s.label)}: {_number(y)} at {_number(x)}</title></circle>"
                for x, y in points
            ]
    if legend:
        body += _legend(frame, [(s.label, s.color, s.dashed) for s, _ in data])
    return _svg(width, frame.height, title, body)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    x_label: str,
    y_label: str,
    width: int = 560,
    height: int = 230,
    color: str = PALETTE[0],
    reference: tuple[str, float] | None = None,
) -> str | None:
    """One bar per value (labelled below); `reference`: a dashed horizontal line (label, value), e.g. the mean."""
    pairs = [(label, float(v)) for label, v in zip(labels, values, strict=True) if math.isfinite(float(v))]
    if not pairs:
        return None
    ys = [v for _, v in pairs] + [0.0] + ([reference[1]] if reference else [])
    frame = _Frame(width, height, [0.0, float(len(pairs))], ys, 0)
    frame.x0, frame.x1 = 0.0, float(len(pairs))
    body = frame.axes(x_label, y_label, x_ticks=False)
    slot = (width - LEFT - RIGHT) / len(pairs)
    zero = frame.y(0.0)
    every = max(1, math.ceil(len(pairs) / 20))
    for i, (label, value) in enumerate(pairs):
        x = LEFT + i * slot + slot * 0.15
        top = min(zero, frame.y(value))
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{max(abs(frame.y(value) - zero), 0.5):.1f}" fill="{color}"><title>{escape(label)}: '
            f"{_number(value)}</title></rect>"
        )
        if i % every == 0:
            body.append(
                f'<text class="tick" x="{x + slot * 0.35:.1f}" y="{frame.bottom + 14}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    if reference is not None:
        y = frame.y(reference[1])
        body.append(
            f'<line class="reference" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#333" '
            f'stroke-dasharray="5,3"><title>{escape(reference[0])}: {_number(reference[1])}</title></line>'
            f'<line x1="{width - RIGHT - 118}" x2="{width - RIGHT - 100}" y1="11" y2="11" stroke="#333" '
            f'stroke-dasharray="5,3"/><text class="legend" x="{width - RIGHT - 96}" y="15">'
            f"{escape(reference[0])} {_number(reference[1])}</text>"
        )
    return _svg(width, height, title, body)


def histogram(
    counts: Sequence[int], edges: Sequence[float], title: str, x_label: str, width: int = 560, height: int = 230
) -> str | None:
    """Counts over bins (`edges`: one more than `counts`, as numpy.histogram gives them)."""
    if not len(counts) or len(edges) != len(counts) + 1:
        return None
    frame = _Frame(width, height, [float(edges[0]), float(edges[-1])], [0.0, float(max(counts) or 1)], 0)
    body = frame.axes(x_label, "episodes")
    zero = frame.y(0.0)
    for count, low, high in zip(counts, edges[:-1], edges[1:], strict=True):
        x0, x1 = frame.x(float(low)), frame.x(float(high))
        y = frame.y(float(count))
        body.append(
            f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
            f'height="{max(zero - y, 0):.1f}" fill="{PALETTE[0]}"><title>[{_number(float(low))}, '
            f"{_number(float(high))}): {int(count)} episodes</title></rect>"
        )
    return _svg(width, height, title, body)
