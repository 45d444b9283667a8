"""Charts get at most one point per dot, with spikes kept."""

from __future__ import annotations

import time

from streamflow_tui.core.heatmap import latency_heatmap
from streamflow_tui.core.results import Bucket
from streamflow_tui.core.scale import nice_ceil
from streamflow_tui.core.timeaxis import time_ticks
from streamflow_tui.core.timeline import Point, downsample
from streamflow_tui.widgets.rate_chart import axis_row, bar_levels


def _points(values, step=1.0):
    return [
        Point(t=1000 + i * step, rps=v, error_ratio=None, p50=v, p95=v, p99=v, churn_rate=None)
        for i, v in enumerate(values)
    ]


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


def test_rate_bars_start_from_zero_on_a_round_scale():
    # A flat 1.00-1.01 req/s is a row of near-equal bars, not swings from the minimum.
    assert nice_ceil(1.01) == 2 and nice_ceil(160.8) == 200 and nice_ceil(0.003) == 0.005 and nice_ceil(0) == 1
    assert bar_levels([1.0, 1.01, 1.0], 10, 6, 2.0) == (24, 24, 24)
    assert bar_levels([0.0, 5.0, 10.0, None], 10, 6, 10.0) == (0, 24, 48, 0)
    assert bar_levels([0.001, 100.0], 10, 1, 100.0) == (1, 8)  # any traffic shows
    assert bar_levels(list(range(100)), 20, 2, 100.0)[0] == round(80 / 100 * 16)  # only the newest width values


def test_time_labels_are_round_wall_clock_times_that_never_overlap():
    t0 = 1_800_000_000.0  # a round minute in every whole-hour time zone
    ticks = time_ticks(t0 + 3, t0 + 603, 60)
    assert [t % 120 for t, _ in ticks] == [0] * len(ticks) and len(ticks) == 5  # 2-minute steps fit 60 columns
    assert ticks[0][1] == time.strftime("%H:%M", time.localtime(t0 + 120))
    assert [t for t, _ in time_ticks(t0, t0 + 30, 40)] == [t0, t0 + 10, t0 + 20, t0 + 30]
    row = axis_row([t0 + i for i in range(61)], 40)
    assert len(row) == 40 and row.count("╵") >= 2
    labels = row.split("╵")[1:]
    assert all(label.strip() for label in labels)  # each tick carries its label, none cut into


def test_latency_heatmap_shares_per_time_slice():
    le = (0.001, 0.01, 0.1, float("inf"))
    fast = tuple(Bucket(b, c) for b, c in zip(le, (90, 10, 0, 0)))
    slow = tuple(Bucket(b, c) for b, c in zip(le, (0, 10, 90, 0)))
    points = [
        Point(1000 + i, 1, None, None, None, None, None, latency_buckets=fast if i < 50 else slow) for i in range(100)
    ]
    heat = latency_heatmap(points, columns=10, max_rows=8)
    assert heat.bounds == (0.001, 0.01, 0.1)  # the never-used +Inf row is dropped
    assert heat.shares[0] == (0.9, 0.1, 0.0) and heat.shares[-1] == (0.0, 0.1, 0.9)
    assert len(heat.times) == 10 and heat.times[-1] == 1099
    merged = latency_heatmap(points, columns=10, max_rows=2)
    assert merged.bounds == (0.01, 0.1) and merged.shares[0] == (1.0, 0.0)
    assert latency_heatmap([Point(1, 1, None, None, None, None, None)], 10, 8) is None
