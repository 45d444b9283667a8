"""The latency heatmap: buckets up the side, time along the bottom, colour the share of requests."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..core.format import bound
from ..core.heatmap import latency_heatmap
from .quiet import set_if_changed
from .rate_chart import axis_row

# Dark to bright: an empty cell is blank, the brightest is where most of that moment's requests fell.
RAMP = ("#1f2a44", "#2b4f7e", "#2f8f8f", "#5cb85c", "#c5d62b", "#ffd21f")
LABEL = 9  # "≤ 2.5 ms "


def level(share: float) -> int:
    """The colour of a share: square-root scaled, so a 1 % tail is told apart from a 20 % band."""
    return min(len(RAMP) - 1, int(share**0.5 * len(RAMP)))


def heatmap_text(points, width: int, height: int, title: str = "latency heatmap") -> Text:
    text = Text(title, style="bold")
    heat = latency_heatmap(points, columns=width - LABEL, max_rows=height - 2)  # the title and the time axis
    if heat is None:
        text.append("\nno latency observations yet", style="dim")
        return text
    text.append("   share of each moment's requests ", style="dim")
    for colour in RAMP:
        text.append("█", style=colour)
    offset = width - LABEL - len(heat.times)
    for row in reversed(range(len(heat.bounds))):
        text.append(f"\n{'≤ ' + bound(heat.bounds[row]):>{LABEL - 1}} ", style="dim")
        text.append(" " * offset)
        for column in heat.shares:
            share = column[row]
            if not share:
                text.append(" ")
            else:
                text.append("█", style=RAMP[level(share)])
    text.append("\n" + " " * LABEL + axis_row(list(heat.times), width - LABEL), style="dim")
    return text


class LatencyHeatmap(Static):
    DEFAULT_CSS = """
    LatencyHeatmap { height: 1fr; text-wrap: nowrap; text-overflow: clip; }
    """

    _points: list = []

    def show(self, points) -> None:
        self._points = points
        size = self.content_size
        if size.width < LABEL + 10 or size.height < 3:
            return  # not laid out yet: drawn on the resize that gives it a size
        set_if_changed(self, heatmap_text(points, size.width, size.height))

    def on_resize(self) -> None:
        if self._points:
            self.show(self._points)
