"""The numpy readers of an HDR histogram give exactly hdrh's own answers."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadgen import hdr_read
from loadgen.stats import PERCENTILES, LoadStats, new_histogram

latencies = st.lists(st.integers(min_value=1, max_value=300_000_000), min_size=1, max_size=300)


def _filled(values: list[int]):
    h = new_histogram()
    for v in values:
        h.record_value(v)
    return h


@settings(max_examples=25, deadline=None)
@given(latencies)
def test_percentiles_mean_and_stddev_equal_hdrh(values):
    h = _filled(values)
    c = hdr_read.counts(h)
    assert hdr_read.percentiles(h, c, PERCENTILES) == h.get_percentile_to_value_dict(list(PERCENTILES))
    mean, stddev = hdr_read.mean_stddev(h, c)
    assert mean == pytest.approx(h.get_mean_value(), rel=1e-12)
    assert stddev == pytest.approx(h.get_stddev(), rel=1e-9, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(latencies)
def test_equal_width_bars_equal_a_walk_of_the_recorded_values(values):
    h = _filled(values)
    lo, hi, bars = h.get_min_value(), h.get_max_value(), 11
    width = max(1, (hi - lo) / (bars - 1))
    expected = [0] * bars
    for item in h.get_recorded_iterator():
        expected[min(bars - 1, int((item.value_iterated_to - lo) / width))] += item.count_added_in_this_iter_step
    assert hdr_read.equal_width_bars(h, hdr_read.counts(h), lo, hi, bars) == expected
    assert sum(expected) == len(values)


def test_a_snapshot_of_a_large_run_is_cheap_and_right():
    stats = LoadStats(model="closed")
    rng = random.Random(1)
    for _ in range(20_000):
        t = rng.lognormvariate(-5, 1)
        stats.on_send(0.0, None)
        stats.on_done(None, 0.0, t, 200, None)
    snap = stats.snapshot()
    expected = stats.corrected.get_percentile_to_value_dict(list(PERCENTILES))
    assert snap.corrected["p99"] == expected[99.0] / 1e6
    assert snap.corrected["p50"] < snap.corrected["p95"] < snap.corrected["p99_9"]
