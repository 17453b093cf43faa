"""Bar charts drawn by the server as inline SVG, for the workshop dashboard and the console.

No script and no style attribute (the pages' CSP allows neither inline scripts nor inline
styles): shapes carry presentation attributes and classes that ``sheber.css`` colours. The
drawing has a ``viewBox`` and no fixed size, so it scales to the width of a phone. It is
``aria-hidden``: what a screen reader reads is the data table the page puts behind each chart
(``templates/_chart.html``), built from the same ``Chart``.

Values are plain integers (counts, or money in minor units); what people read is ``shown``,
formatted by the caller (Babel money, localised months and country names). Bars are
proportional to the values: length = value / largest value × the plot's length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from markupsafe import Markup, escape

WIDTH = 640
BAR_AREA = 200  # height of a column chart's plot
ROW = 22  # height of a horizontal bar
LABEL_CHARS = 26  # a horizontal chart's label is cut there in the drawing (whole in the table)

Month = tuple[int, int]  # (year, month)


# --- the time axis of monthly figures (calendar months, UTC) ---

def last_months(today: date, count: int) -> list[Month]:
    """The ``count`` calendar months ending with ``today``'s, oldest first."""
    year, month = today.year, today.month
    months = []
    for _ in range(count):
        months.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def month_range(axis: list[Month]) -> tuple[datetime, datetime]:
    """From the first month's first moment to the moment after the last month."""
    (first_year, first_month), (year, month) = axis[0], axis[-1]
    return (datetime(first_year, first_month, 1),
            datetime(year + (month == 12), month % 12 + 1, 1))


def monthly_series(axis: list[Month], rows: Iterable[tuple]) -> dict[str, list[int]]:
    """Rows of (year, month, currency, amount) as one list per currency along ``axis``
    (months without a row are 0)."""
    position = {m: i for i, m in enumerate(axis)}
    series: dict[str, list[int]] = defaultdict(lambda: [0] * len(axis))
    for year, month, currency, amount in rows:
        series[currency][position[(int(year), int(month))]] += int(amount or 0)
    return dict(sorted(series.items()))


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[int, ...]
    shown: tuple[str, ...]  # the values as people read them, same order


@dataclass(frozen=True)
class Chart:
    """One chart: a label per bar (group) and one or more series of values."""

    id: str  # unique in the page: the element ids derive from it
    title: str
    label_heading: str  # the table's first column: "Month", "Country", "Piece"
    labels: tuple[str, ...]
    series: tuple[Series, ...]
    horizontal: bool = False  # bars from the left (long labels: countries, pieces)
    note: str = ""  # what the figures count, said under the title
    short_labels: tuple[str, ...] = field(default=())  # the drawing's labels, if shorter

    def __post_init__(self):
        for series in self.series:
            if len(series.values) != len(self.labels) or len(series.shown) != len(self.labels):
                raise ValueError(f"series {series.name!r} does not match the labels")

    @property
    def empty(self) -> bool:
        return not self.labels or not any(v for s in self.series for v in s.values)

    @property
    def rows(self) -> list[tuple[str, list[str]]]:
        """The data table: a label and each series' shown value."""
        return [(label, [s.shown[i] for s in self.series]) for i, label in enumerate(self.labels)]

    @property
    def svg(self) -> Markup:
        return draw(self)


def _largest(chart: Chart) -> int:
    return max([v for s in chart.series for v in s.values] + [0])


def _scale(value: int, largest: int, length: float) -> float:
    return round(max(value, 0) / largest * length, 2) if largest > 0 else 0.0


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _text(x: float, y: float, text: str, *, css: str, anchor: str = "start") -> str:
    return (f'<text x="{x}" y="{y}" class="{css}" text-anchor="{anchor}" '
            f'font-size="12">{escape(text)}</text>')


def _open(height: float) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'class="chart-drawing" aria-hidden="true" focusable="false" '
            f'preserveAspectRatio="xMinYMin meet">')


def _columns(chart: Chart) -> str:
    """Vertical bars, one group per label (months)."""
    largest = _largest(chart)
    labels = chart.short_labels or chart.labels
    top, left, bottom = 22, 4, 34
    group = (WIDTH - left * 2) / max(len(labels), 1)
    per = len(chart.series)
    bar = max(min(group * 0.8 / per, 48), 2)
    height = top + BAR_AREA + bottom
    base = top + BAR_AREA
    parts = [_open(height)]
    parts.append(f'<line x1="{left}" y1="{base}" x2="{WIDTH - left}" y2="{base}" '
                 f'class="axis" stroke="currentColor" stroke-width="1"/>')
    for i, label in enumerate(labels):
        start = left + group * i + (group - bar * per) / 2
        for j, series in enumerate(chart.series):
            length = _scale(series.values[i], largest, BAR_AREA)
            x = round(start + bar * j, 2)
            parts.append(f'<rect x="{x}" y="{round(base - length, 2)}" width="{round(bar, 2)}" '
                         f'height="{length}" class="bar s{j}"/>')
        parts.append(_text(round(left + group * i + group / 2, 2), base + 16, label,
                           css="tick", anchor="middle"))
    if largest:
        peak = max(range(len(labels)), key=lambda i: max(s.values[i] for s in chart.series))
        best = max(chart.series, key=lambda s: s.values[peak])
        parts.append(_text(round(left + group * peak + group / 2, 2), top - 6,
                           best.shown[peak], css="peak", anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def _bars(chart: Chart) -> str:
    """Horizontal bars, one group per label (countries, pieces), the value after each bar."""
    largest = _largest(chart)
    labels = chart.short_labels or chart.labels
    label_width, value_width = 210, 110
    length_max = WIDTH - label_width - value_width
    per = len(chart.series)
    group = ROW * per + 8
    height = group * len(labels) + 4
    parts = [_open(height)]
    for i, label in enumerate(labels):
        y0 = 4 + group * i
        parts.append(_text(label_width - 8, y0 + ROW * per / 2 + 4, _cut(label, LABEL_CHARS),
                           css="tick", anchor="end"))
        for j, series in enumerate(chart.series):
            length = _scale(series.values[i], largest, length_max)
            y = y0 + ROW * j
            parts.append(f'<rect x="{label_width}" y="{y}" width="{length}" '
                         f'height="{ROW - 4}" class="bar s{j}"/>')
            parts.append(_text(round(label_width + length + 6, 2), y + ROW - 9,
                               series.shown[i], css="value"))
    parts.append(f'<line x1="{label_width}" y1="0" x2="{label_width}" y2="{height}" '
                 f'class="axis" stroke="currentColor" stroke-width="1"/>')
    parts.append("</svg>")
    return "".join(parts)


def draw(chart: Chart) -> Markup:
    """The chart as an SVG element (empty when there is nothing to draw)."""
    if chart.empty:
        return Markup("")
    return Markup(_bars(chart) if chart.horizontal else _columns(chart))
