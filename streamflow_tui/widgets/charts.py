"""What the time charts share: wall-clock time on x, round values on evenly spaced rows on y, the title with
the span shown and the legend in the chart's border (never over the data), model changes marked, the latency
lines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from plotext._dict import color_codes
from textual.content import Content
from textual.widget import Widget
from textual_plotext import PlotextPlot

from ..core.scale import ValueAxis, value_axis
from ..core.timeaxis import axis_ticks, span_text
from ..core.timeline import downsample

# Points per line on a time chart. plotext's braille lines cost ~0.5 ms a point (3 lines of 600 points:
# 234 ms a redraw), so the history is cut into this many time slices (core.timeline.downsample).
CHART_POINTS = 40
Y_LABELS = 8  # columns plotext takes for the y axis' numbers
# plotext's rows that are not data: the axis line above and below, and the time labels (the title is in
# the border). The rows ticks are spaced on are the widget's height less these.
FRAME_ROWS = 3
# plotext's colour names are ANSI colour numbers ("orange" is 3, the terminal's yellow): the legend in the
# border names the same numbers, so each mark has its line's colour whatever the theme.
ANSI = (
    "ansi_black",
    "ansi_red",
    "ansi_green",
    "ansi_yellow",
    "ansi_blue",
    "ansi_magenta",
    "ansi_cyan",
    "ansi_white",
    "ansi_bright_black",
    "ansi_bright_red",
    "ansi_bright_green",
    "ansi_bright_yellow",
    "ansi_bright_blue",
    "ansi_bright_magenta",
    "ansi_bright_cyan",
    "ansi_bright_white",
)
MARK_COLOR = "orange+"  # model changes: the terminal's bright yellow ("yellow" is no plotext colour)


@dataclass(frozen=True)
class Key:
    """One entry of a chart's legend: a mark in its line's colour (none: words only), and what it is."""

    label: str
    color: str = "gray"  # a plotext colour name
    mark: str = "━"


MODEL_CHANGE = Key("model change", MARK_COLOR, "│")


class TimeChart(PlotextPlot):
    """A plotext time chart that draws itself again when its size changes: its y ticks are spaced for its rows
    and its time labels for its columns. A chart drawn before its layout (a tab shown for the first time), or
    shrunk by a panel above it that grew, would otherwise keep ticks for another size until its next redraw."""

    redraw: Callable[[], None] | None = None

    def on_resize(self) -> None:
        if self.redraw is not None and self.size.area:
            self.redraw()


def redrawn_on_resize(plot: PlotextPlot, draw: Callable[[], None]) -> None:
    """How a chart draws itself again (``TimeChart``); a plain PlotextPlot keeps what it drew."""
    if isinstance(plot, TimeChart):
        plot.redraw = draw


def start(plot: PlotextPlot):
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    return plt


def data_rows(plot: Widget) -> int:
    """The rows plotext draws data on, which the y ticks are spaced over."""
    return max(1, plot.size.height - FRAME_ROWS)


def y_axis(
    plt, plot: Widget, lowest: float, highest: float, *, from_zero: bool = False, yside: str = "left"
) -> ValueAxis:
    """Round ticks on evenly spaced rows (core.scale), in place of plotext's own."""
    axis = value_axis(lowest, highest, data_rows(plot), from_zero=from_zero)
    plt.ylim(axis.low, axis.high, yside=yside)
    plt.yticks(list(axis.ticks), list(axis.labels), yside=yside)
    return axis


def time_axis(plt, points, width: int) -> None:
    """x is seconds before the newest point; the ticks say which wall-clock time that is, always: round times,
    or the first and last point's where fewer than two round ones fit (plotext would print its own -73.2)."""
    if not points:
        return
    t_end = points[-1].t
    # One point has no span: a second of room, or plotext divides by the zero width of [0, 0] (a crash).
    plt.xlim(min(points[0].t - t_end, -1.0), 0)
    # Wide spacing: plotext shifts a label that comes near another, in an order that varies between runs.
    ticks = axis_ticks(points[0].t, t_end, max(10, width - Y_LABELS - 2), label_width=14)
    plt.xticks([t - t_end for t, _ in ticks], [label for _, label in ticks])


def mark_versions(plt, points, versions) -> bool:
    """A vertical line where the served model changed, on a chart whose x is seconds before the newest point;
    whether there was one."""
    if versions is None or not points:
        return False
    marks = versions.marks(points[-1].t, points[-1].t - points[0].t)
    for x in marks:
        plt.vline(x, MARK_COLOR)
    return bool(marks)


def caption(plot: Widget, title: str, points, keys: Sequence[Key] = ()) -> None:
    """The title and the time the chart spans in its top border ("latency ms · last 10 min"), the legend in
    its bottom one: plotext drops a title that does not fit, and its legend covers the data of a short chart."""
    span = points[-1].t - points[0].t if len(points) >= 2 else 0.0
    top = Content(f"{title} · {span_text(span)}" if span > 0 else title)
    entries = [
        Content.assemble((k.mark, ANSI[color_codes[k.color]]), " ", k.label) if k.mark else Content(k.label)
        for k in keys
    ]
    # Two spaces between entries where they fit the border (its corners and a margin), one where they do not.
    wide = sum(len(e) for e in entries) + 2 * len(entries) <= plot.size.width - 4
    bottom = Content("  " if wide else " ").join(entries)
    # Assigning repaints the widget, even with the same text.
    if plot.border_title != top.markup:
        plot.border_title = top
    if (plot.border_subtitle or "") != bottom.markup:
        plot.border_subtitle = bottom if entries else None


def plot_lines(
    plt, points, lines: Sequence[tuple[str, str, str]], *, scale: float = 1.0, reduce=max
) -> tuple[list[Key], list[float]]:
    """Each (timeline column, plotext colour, legend label) as a braille line of ``CHART_POINTS`` time slices
    (each slice ``reduce``d), its values times ``scale``: the keys of the lines drawn, and every value plotted
    (what the y axis must show)."""
    keys: list[Key] = []
    values: list[float] = []
    for name, color, label in lines:
        xs, ys = downsample(points, name, CHART_POINTS, reduce=reduce)
        if xs:
            scaled = [y * scale for y in ys]
            plt.plot(xs, scaled, color=color, marker="braille")
            keys.append(Key(label, color))
            values += scaled
    return keys, values


def client_vs_server(client: str, server: str) -> tuple[tuple[str, str, str], ...]:
    """A load's two lines of one latency: the client's (from the intended send times) and the server's own."""
    return ((client, "magenta", "client (corrected)"), (server, "orange", "server"))


def draw_latency(plot: PlotextPlot, points, slo_p95: float, versions=None) -> None:
    """p50, p95 and p99 over time in ms, with the p95 SLO as a line when it is near the data."""
    redrawn_on_resize(plot, lambda: draw_latency(plot, points, slo_p95, versions))
    plt = start(plot)
    keys: list[Key] = []
    if points:
        lines = [(key, color, key) for key, color in (("p50", "green"), ("p95", "orange"), ("p99", "red"))]
        keys, values = plot_lines(plt, points, lines, scale=1000)
        worst = max((p.p99 or p.p95 or 0.0 for p in points), default=0.0)
        near = worst >= slo_p95 / 2  # the SLO line only when it is near the data, or it flattens the lines
        if near:
            plt.hline(slo_p95 * 1000, "gray")
            values.append(slo_p95 * 1000)
        keys.append(Key(f"p95 SLO {slo_p95 * 1000:g} ms", "gray", "─" if near else "↑"))  # ↑: above the chart
        if values:
            y_axis(plt, plot, min(values), max(values))
        if mark_versions(plt, points, versions):
            keys.append(MODEL_CHANGE)
        time_axis(plt, points, plot.size.width)
    caption(plot, "latency ms", points, keys)
    plot.refresh()
