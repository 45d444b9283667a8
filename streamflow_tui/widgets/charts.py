"""What the time charts share."""

from __future__ import annotations

# Points per line on a time chart. plotext's braille lines cost ~0.5 ms a point (3 lines of 600 points:
# 234 ms a redraw), so the history is cut into this many time slices (core.timeline.downsample).
CHART_POINTS = 40


def mark_versions(plt, points, versions) -> None:
    """A vertical line where the served model changed, on a chart whose x is seconds before the newest point."""
    if versions is None or not points:
        return
    for x in versions.marks(points[-1].t, points[-1].t - points[0].t):
        plt.vline(x, "yellow")
