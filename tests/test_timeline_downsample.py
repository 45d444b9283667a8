"""Charts get at most one point per dot, with spikes kept."""

from __future__ import annotations

from streamflow_tui.core.timeline import Point, downsample
from streamflow_tui.widgets.rate_sparkline import bar_levels


def _points(values, step=1.0):
    return [Point(t=1000 + i * step, rps=v, error_ratio=None, p50=v, p95=v, p99=v, churn_rate=None) for i, v in enumerate(values)]


def test_downsample_bounds_points_and_keeps_the_spike():
    values = [0.01] * 600
    values[337] = 0.9
    xs, ys = downsample(_points(values), "p95", 180)
    assert len(xs) == len(ys) <= 180
    assert max(ys) == 0.9 and ys.count(0.9) == 1
    assert xs[-1] == 0.0 and -600 < xs[0] <= -596  # seconds before the newest point
    assert xs == sorted(xs)


def test_downsample_leaves_out_gaps_and_passes_short_series_through():
    pts = _points([0.1, None, None, 0.3])
    assert downsample(pts, "p50", 100) == ([-3.0, 0.0], [0.1, 0.3])
    assert downsample([], "p50", 100) == ([], [])


def test_sparkline_bars_start_from_zero():
    # A flat 1.00-1.01 req/s is a full row of near-equal bars, not swings from the minimum.
    assert bar_levels([1.0, 1.01, 1.0], 10, 6) == (48, 48, 48)
    assert bar_levels([0.0, 5.0, 10.0, None], 10, 6) == (0, 24, 48, 0)
    assert bar_levels([0.001, 100.0], 10, 1) == (1, 8)  # any traffic shows
    assert bar_levels(list(range(100)), 20, 2)[0] == round(80 / 99 * 16)  # only the newest width values
