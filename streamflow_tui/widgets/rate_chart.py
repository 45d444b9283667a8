"""Requests/s over time: bars from zero, one column per poll, newest on the right, with a value axis
on the left, wall-clock times below and the time it spans in its title."""

from __future__ import annotations

import bisect

from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from ..core.scale import nice_ceil
from ..core.timeaxis import span_text, time_ticks

EIGHTHS = " ▁▂▃▄▅▆▇█"
GUTTER = 7  # "1.25k ┤"


def axis_number(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}" if value >= 1 or value == 0 else f"{value:.2g}"


def bar_levels(values: list[float | None], width: int, height: int, top: float) -> tuple[int, ...]:
    """Bar heights in eighths of a row for the newest ``width`` values, on a scale from zero to ``top``."""
    shown = [v or 0.0 for v in values[-width:]] if width > 0 else []
    full = height * 8
    # Any traffic at all shows at least one eighth: a bar of zero height would read as no traffic.
    return tuple(min(full, max(1, round(v / top * full))) if v > 0 else 0 for v in shown)


def axis_row(times: list[float], width: int) -> str:
    """Time labels under the bars' columns (the newest ``width`` times, right-aligned), never overlapping."""
    times = times[-width:]
    row = [" "] * width
    if len(times) < 2:
        return "".join(row)
    offset = width - len(times)
    end = 0
    for t, label in time_ticks(times[0], times[-1], len(times)):
        column = offset + min(len(times) - 1, bisect.bisect_left(times, t))
        if column < end or column + len(label) + 1 > width:
            continue
        row[column] = "╵"
        row[column + 1 : column + 1 + len(label)] = label
        end = column + len(label) + 2
    return "".join(row)


class RateChart(Widget):
    """A bar chart of one rate that repaints only the lines whose content changed.

    Why not Textual's Sparkline: it scales from the data's minimum, so a flat 1.00–1.01 req/s draws as
    full swings, it has no axes, and it re-renders one styled segment per cell on every change (about
    1 % of a core at one update a second, docs/BENCHMARKS.md). Here a repaint is a few segments a row.
    """

    COMPONENT_CLASSES = {"rate-chart--bar", "rate-chart--axis"}
    DEFAULT_CSS = """
    RateChart { height: 8; }
    RateChart > .rate-chart--bar { color: $accent; }
    RateChart > .rate-chart--axis { color: $text-muted; }
    """

    def __init__(self, *, title: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = title
        self._values: list[float | None] = []
        self._times: list[float] = []
        self._rows: list[tuple[str, str]] = []  # (gutter, cells) of each line, as painted

    def heading(self, cells: int) -> str:
        """The title and the time the bars span: one column a poll, so as many polls as there are columns
        (beside a latency chart of the whole history, this one says it shows less)."""
        shown = self._times[-cells:] if cells > 0 else []
        span = shown[-1] - shown[0] if len(shown) >= 2 else 0.0
        return " · ".join(part for part in (self._title, span_text(span) if span > 0 else "") if part)

    @property
    def _bordered(self) -> bool:
        return self.styles.border_top[0] not in ("", "none", "hidden")

    def set_values(self, values: list[float | None], times: list[float]) -> None:
        self._values, self._times = values, times
        self._relevel()

    def on_resize(self) -> None:
        self._rows = []
        self._relevel()

    def _relevel(self) -> None:
        """Work out every line, and repaint only the lines that changed: idle, that is the time axis alone.
        The heading goes in the border's title; without a border, on the first line."""
        width, height = self.size.width, self.size.height
        cells = width - GUTTER
        heading = self.heading(cells)
        if self._bordered:
            if self.border_title != heading:  # assigning repaints the widget, even with the same title
                self.border_title = heading
            rows = []
        else:
            rows = [("", heading[:width].ljust(width))]
        bars = height - 1 - len(rows)
        if cells < 1 or bars < 1:
            return
        top = nice_ceil(max((v or 0.0 for v in self._values[-cells:]), default=0.0))
        levels = bar_levels(self._values, cells, bars, top)
        half = bars // 2 if bars >= 5 else -1  # a row whose bottom edge is (about) half the scale
        for y in range(bars):
            label = axis_number(top) if y == 0 else "0" if y == bars - 1 else axis_number(top / 2) if y == half else ""
            label = label[: GUTTER - 2]
            gutter = f"{label:>{GUTTER - 2}} ┤" if label else " " * (GUTTER - 1) + "│"
            row = bars - 1 - y  # 0 is the bottom row
            line = "".join(EIGHTHS[min(8, max(0, level - row * 8))] for level in levels)
            rows.append((gutter, " " * (cells - len(line)) + line))
        rows.append((" " * GUTTER, axis_row(self._times, cells)))
        previous, self._rows = self._rows, rows
        if len(previous) != len(rows):
            self.refresh()
            return
        changed = [y for y, (old, new) in enumerate(zip(previous, rows)) if old != new]
        if changed:  # one region from the first changed line to the last: one repaint
            self.refresh(Region(0, changed[0], width, changed[-1] - changed[0] + 1))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y >= len(self._rows):
            # With the widget's style: a segment without one crashes Textual's opacity filter, which dims
            # the views while the target is down ('NoneType' object has no attribute 'color').
            return Strip.blank(width, self.rich_style)
        gutter, cells = self._rows[y]
        axis_style = self.get_component_rich_style("rate-chart--axis")
        if y == len(self._rows) - 1 or not gutter:  # the time axis, or the heading
            return Strip([Segment(gutter, axis_style), Segment(cells, axis_style)], width)
        return Strip(
            [Segment(gutter, axis_style), Segment(cells, self.get_component_rich_style("rate-chart--bar"))], width
        )
