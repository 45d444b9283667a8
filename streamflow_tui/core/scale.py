"""Value axes that read at a glance: round steps (1, 2, 2.5 or 5 × 10^k), ticks on evenly spaced rows,
labels of one width. plotext's own y ticks split the axis into equal parts of the data's range: 23.0, 17.5,
11.9 on rows that are not evenly apart either."""

from __future__ import annotations

import math
from dataclasses import dataclass

MANTISSAS = (1, 2, 2.5, 5, 10)
# Rows from one tick to the next: at least 2, or the labels stack up; at most 5, or a tall chart says little.
MIN_GAP, MAX_GAP = 2, 5


def nice_ceil(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above ``value`` (1 for zero or less)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in MANTISSAS if m * power >= value * (1 - 1e-9))


def _decimals(step: float) -> int:
    """Decimals that write every multiple of ``step`` exactly: 0.25 → 2, 2.5 → 1, 50 → 0."""
    return next((d for d in range(10) if abs(round(step, d) - step) <= step * 1e-9), 10)


@dataclass(frozen=True)
class ValueAxis:
    """The limits to give the chart and its ticks: tick k sits exactly ``gap`` × k rows above the bottom."""

    low: float  # the bottom row's value: the first tick
    high: float  # the top row's value: at or above the last tick, so every tick falls on a row
    ticks: tuple[float, ...]
    labels: tuple[str, ...]  # right-aligned to one width
    gap: int  # rows from one tick to the next


def value_axis(lowest: float, highest: float, rows: int, *, from_zero: bool = False) -> ValueAxis:
    """An axis over ``rows`` rows that shows ``lowest``–``highest``, with round ticks on evenly spaced rows.

    A chart maps value v to row ⌊0.5 + (rows − 1)(v − low)/(high − low)⌋ (plotext does): with
    high = low + (rows − 1) × step / gap, tick k lands on row k × gap exactly. Of the gaps that fit, the one
    whose axis the data fills most wins, among those with three ticks or more where the rows allow it (two
    labels say little of a scale); on a tie, the fewer labels. ``from_zero``: the axis starts at 0.
    """
    if from_zero:
        lowest = min(0.0, lowest)
    highest = max(highest, lowest)
    if highest - lowest <= max(abs(lowest), abs(highest)) * 1e-9:  # flat: a band around it (or up from zero)
        pad = abs(highest) * 0.1 or 1.0
        highest, lowest = highest + pad, lowest if from_zero else lowest - pad
    span, intervals = highest - lowest, max(1, rows - 1)
    best: tuple[bool, float, int, float, float] | None = None  # (3 ticks or more, fill, gap, step, low)
    for gap in range(min(MIN_GAP, intervals), min(MAX_GAP, intervals) + 1):
        step = nice_ceil(span * gap / intervals)
        while True:
            low = 0.0 if from_zero and lowest >= 0 else math.floor(lowest / step + 1e-9) * step
            if intervals // gap == 1 and lowest < 0 < highest:
                # One tick interval across zero: no multiple of the step is below the data with the next above
                # it (the step grew until the 1e-9 above rounded the bottom to 0, off the data). The bottom is
                # the data's, floored at the labels' decimals; the step stays round.
                unit = 10.0 ** -_decimals(step)
                low = math.floor(lowest / unit + 1e-9) * unit
            if low + intervals * step / gap >= highest - span * 1e-9:
                break
            step = nice_ceil(step * 1.01)  # the next round step up
        candidate = (intervals // gap >= 2, round(span / (intervals * step / gap), 6), gap, step, low)
        if best is None or candidate[:3] > best[:3]:
            best = candidate
    assert best is not None, "at least one gap: range(1, 2) when there is one interval"
    *_, gap, step, low = best
    decimals = _decimals(step)
    # Rounded to the label's decimals (0.30000000000000004 is 0.3); + 0.0 turns -0.0 into 0.0.
    ticks = tuple(round(low + k * step, decimals) + 0.0 for k in range(intervals // gap + 1))
    texts = [f"{t:,.{decimals}f}" for t in ticks]
    width = max(len(t) for t in texts)
    return ValueAxis(ticks[0], ticks[0] + intervals * step / gap, ticks, tuple(t.rjust(width) for t in texts), gap)
