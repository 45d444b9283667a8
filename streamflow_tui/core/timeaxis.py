"""Wall-clock labels for a chart's time axis: round times (12:04:30, not -37.5 s) at a readable spacing, and
the span a chart shows, in words."""

from __future__ import annotations

import math
import time

# Tick spacings in seconds: the first that leaves room for each label is used.
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


def time_ticks(t_start: float, t_end: float, width: int, label_width: int = 10) -> list[tuple[float, str]]:
    """(unix time, label) ticks at round multiples of a step, at most one per ``label_width`` columns.

    Labels are local time, as the user's clock shows it: HH:MM:SS below a minute's step, HH:MM above.
    """
    span = t_end - t_start
    if span <= 0 or width < label_width:
        return []
    most = max(1, width // label_width)
    step = next((s for s in STEPS if span / s <= most), STEPS[-1])
    fmt = "%H:%M:%S" if step < 60 else "%H:%M"
    # Local midnight alignment: steps of minutes and hours fall on the wall clock's round times.
    offset = time.localtime(t_end).tm_gmtoff
    first = math.ceil((t_start + offset) / step) * step - offset
    ticks: list[tuple[float, str]] = []
    t = first
    while t <= t_end + 1e-9:
        ticks.append((t, time.strftime(fmt, time.localtime(t))))
        t += step
    return ticks


CLOCK = "%H:%M:%S"


def axis_ticks(t_start: float, t_end: float, width: int, label_width: int = 10) -> list[tuple[float, str]]:
    """The round ``time_ticks``; where fewer than two fit (a narrow chart, a short span), the start and end
    times (HH:MM:SS) instead, or the end alone when both do not fit: always clock times, never a chart
    library's own seconds-before-now numbers. Empty only when there is no span and no room."""
    ticks = time_ticks(t_start, t_end, width, label_width)
    if len(ticks) >= 2:
        return ticks
    end = (t_end, time.strftime(CLOCK, time.localtime(t_end)))
    if t_end > t_start and width >= 2 * len(end[1]) + 2:
        return [(t_start, time.strftime(CLOCK, time.localtime(t_start))), end]
    return [end] if width >= len(end[1]) else []


def span_text(seconds: float) -> str:
    """How much time a chart shows, for its title: "last 50 s", "last 10 min", "last 2.5 h"."""
    if seconds < 120:
        return f"last {seconds:.0f} s"
    if seconds < 120 * 60:
        return f"last {seconds / 60:.0f} min"
    return f"last {seconds / 3600:.1f}".removesuffix(".0") + " h"
