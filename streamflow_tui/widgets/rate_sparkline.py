"""Requests/s over time as bars from zero, one column per poll, newest on the right."""

from __future__ import annotations

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

EIGHTHS = " ▁▂▃▄▅▆▇█"


def bar_levels(values: list[float | None], width: int, height: int) -> tuple[int, ...]:
    """Bar heights in eighths of a row for the newest ``width`` values, scaled from zero to their maximum."""
    shown = [v or 0.0 for v in values[-width:]] if width > 0 else []
    top = max(shown, default=0.0)
    if top <= 0:
        return (0,) * len(shown)
    full = height * 8
    # Any traffic at all shows at least one eighth: a bar of zero height would read as no traffic.
    return tuple(max(1, round(v / top * full)) if v > 0 else 0 for v in shown)


class RateSparkline(Widget):
    """A sparkline that repaints only when a bar's height changes.

    Why not Textual's Sparkline: it scales from the data's minimum, so a flat
    1.00–1.01 req/s draws as full swings, and it re-renders one styled segment
    per cell on every change — about 1 % of a core at one update a second on
    the benchmark machine (docs/BENCHMARKS.md). Here a poll that does not move a
    bar costs nothing, and a repaint is one segment per row.
    """

    COMPONENT_CLASSES = {"rate-sparkline--bar"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._values: list[float | None] = []
        self._levels: tuple[int, ...] = ()

    def set_values(self, values: list[float | None]) -> None:
        self._values = values
        self._relevel()

    def on_resize(self) -> None:
        self._relevel()

    def _relevel(self) -> None:
        levels = bar_levels(self._values, self.size.width, self.size.height)
        if levels != self._levels:
            self._levels = levels
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        row = height - 1 - y  # 0 is the bottom row
        cells = []
        for level in self._levels:
            eighths = min(8, max(0, level - row * 8))
            cells.append(EIGHTHS[eighths])
        text = " " * (width - len(cells)) + "".join(cells)
        return Strip([Segment(text, self.get_component_rich_style("rate-sparkline--bar"))], width)
