"""What the time charts share: wall-clock time on x, model changes marked, the latency lines."""

from __future__ import annotations

from textual_plotext import PlotextPlot

from ..core.timeaxis import time_ticks
from ..core.timeline import downsample

# Points per line on a time chart. plotext's braille lines cost ~0.5 ms a point (3 lines of 600 points:
# 234 ms a redraw), so the history is cut into this many time slices (core.timeline.downsample).
CHART_POINTS = 40
Y_LABELS = 8  # columns plotext takes for the y axis' numbers


def start(plot: PlotextPlot):
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    return plt


def time_axis(plt, points, width: int) -> None:
    """x is seconds before the newest point; the ticks say which wall-clock time that is."""
    if len(points) < 2:
        return
    t_end = points[-1].t
    plt.xlim(points[0].t - t_end, 0)
    # Wide spacing: plotext shifts a label that comes near another, in an order that varies between runs.
    ticks = time_ticks(points[0].t, t_end, max(10, width - Y_LABELS - 2), label_width=14)
    if ticks:
        plt.xticks([t - t_end for t, _ in ticks], [label for _, label in ticks])


def mark_versions(plt, points, versions) -> None:
    """A vertical line where the served model changed, on a chart whose x is seconds before the newest point."""
    if versions is None or not points:
        return
    for x in versions.marks(points[-1].t, points[-1].t - points[0].t):
        plt.vline(x, "yellow")


def draw_latency(plot: PlotextPlot, points, slo_p95: float, versions=None) -> None:
    """p50, p95 and p99 over time in ms, with the p95 SLO as a line when it is near the data."""
    plt = start(plot)
    if points:
        for key, color in (("p50", "green"), ("p95", "orange"), ("p99", "red")):
            xs, ys = downsample(points, key, CHART_POINTS)
            if xs:
                plt.plot(xs, [y * 1000 for y in ys], label=key, color=color, marker="braille")
        worst = max((p.p99 or p.p95 or 0.0 for p in points), default=0.0)
        if worst >= slo_p95 / 2:  # the SLO line only when it is near the data, or it flattens the lines
            plt.hline(slo_p95 * 1000, "gray")
        mark_versions(plt, points, versions)
        time_axis(plt, points, plot.size.width)
    plt.title(f"latency ms · p95 SLO {slo_p95 * 1000:g} ms")
    plot.refresh()
