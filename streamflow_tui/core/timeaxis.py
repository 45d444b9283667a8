"""Wall-clock labels for a chart's time axis: round times (12:04:30, not -37.5 s) at a readable spacing."""

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
