"""What the time charts share."""

from __future__ import annotations

from textual_plotext import PlotextPlot


def chart_dots(plot: PlotextPlot) -> int:
    """Horizontal resolution of a braille chart: two dots per column (more points only cost time)."""
    return max(10, 2 * plot.size.width)


LINE_POINTS = 40  # up to this many points a chart draws lines; plotext's lines cost ~0.5 ms a point


def draw_series(plt, xs: list[float], ys: list[float], **style) -> None:
    """Lines while a series is short, braille dots (as dense as the chart's dots) once it is long."""
    (plt.plot if len(xs) <= LINE_POINTS else plt.scatter)(xs, ys, marker="braille", **style)
