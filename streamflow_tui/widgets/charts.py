"""What the time charts share."""

from __future__ import annotations

# Points per line on a time chart. plotext's braille lines cost ~0.5 ms a point (3 lines of 600 points:
# 234 ms a redraw), so the history is cut into this many time slices (core.timeline.downsample).
CHART_POINTS = 40
